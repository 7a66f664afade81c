"""The training loss: cross-entropy on target tokens only, the output layer applied only there.

:func:`target_loss` wraps a causal LM (a PEFT model or a plain one); calling the wrapper
with a collated :class:`~taskmix.training.data.Batch`'s tensors returns the *summed*
cross-entropy of the target tokens. The base model's hidden states are computed for the
whole sequence, the positions that predict a target token are gathered, and the output
layer is applied to those positions alone: no full-vocabulary logits for the rest.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _target_loss_class() -> type:
    import torch

    class TargetLoss(torch.nn.Module):
        """Wraps a causal LM; ``forward`` returns the summed cross-entropy of target tokens."""

        def __init__(self, model: Any):
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, positions: Any, labels: Any) -> Any:
            base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
            # Batches are right-padded and attention is causal, so no real token ever attends to a
            # pad: the mask is not needed, and without it SDPA takes its faster is_causal path.
            hidden = base.get_decoder()(input_ids=input_ids, use_cache=False)
            h = hidden.last_hidden_state
            h = h.reshape(-1, h.shape[-1]).index_select(0, positions)
            logits = base.get_output_embeddings()(h).float()
            return torch.nn.functional.cross_entropy(logits, labels, reduction="sum")

    return TargetLoss


def target_loss(model: Any) -> Any:
    """``model`` wrapped as a ``torch.nn.Module`` whose ``forward(input_ids, attention_mask,
    positions, labels)`` returns the summed cross-entropy of the target tokens."""
    return _target_loss_class()(model)
