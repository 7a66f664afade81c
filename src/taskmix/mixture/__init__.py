"""Training mixtures (``taskmix build``): the symbol-tuning mixture of Wei et al. (2023).

Public API: :class:`MixtureConfig`, :func:`build_symbol_mixture` (in
:mod:`taskmix.mixture.build`), :func:`make_prompt` / :func:`mixture_prompts` (in
:mod:`taskmix.mixture.symbol`).
"""

from .config import DEFAULT_TASKS, MixtureConfig

__all__ = ["DEFAULT_TASKS", "MixtureConfig"]
