"""The symbol-tuning mixture configuration (``taskmix build symbol --config FILE``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import KEY_NEUTRAL
from ..errors import ConfigError
from ..prompts.formats import get_format
from ..symbols import KINDS

# The paper's tuning datasets as named in the catalogue (Wei et al. 2023, Table 6 minus
# the evaluation ones): none of them is in the ``symbol-eval`` suite.
#: How the classes of a prompt share their exemplar numbers (see ``MixtureConfig.class_counts``).
CLASS_COUNTS = ("equal", "independent")
#: How a prompt's exemplars are chosen (see ``MixtureConfig.exemplar_choice``).
EXEMPLAR_CHOICES = ("random", "similar")

DEFAULT_TASKS: tuple[str, ...] = (
    "sst2", "mr", "sst5", "cola", "mnli", "qnli", "qqp", "mrpc", "rte", "snli", "cb", "trec",
    "agnews", "tweeteval/offensive", "tweeteval/irony", "tweeteval/sentiment",
)


@dataclass(frozen=True)
class MixtureConfig:
    """How the symbol-tuning mixture is built.

    Fields:
        tasks: classification tasks (catalogue names) to draw prompts from.
        extra_tasks: more tasks a user adds to ``tasks`` (same rules; never an evaluation task).
        split: the split that supplies queries and exemplars (exemplars never include the query).
        per_task_cap: at most this many prompts per task (the paper used 25,000).
        min_exemplars_per_class: fewest exemplars of each class in a prompt; a query whose
            prompt cannot fit that many within ``max_length`` is skipped (and counted).
        max_exemplars_per_class: most exemplars of each class; each prompt draws a number in
            [min, max] and then drops one exemplar per class until the prompt fits.
        class_counts: ``equal`` (every class of a prompt shows the same number of
            exemplars, the paper's; what mixtures built before this field did) or
            ``independent`` (each class draws its own number in [min, max], and a prompt
            that is too long drops one exemplar from every class at a time, so the numbers
            stay unequal). With equal numbers the labels already shown give away the last
            exemplars' labels by counting (the classes still short), a shortcut that
            ``label_loss: context`` would teach instead of reading the inputs: use
            ``independent`` with it.
        exemplar_choice: ``random`` (the paper's; what mixtures built before this field
            did) or ``similar``: each class shows its exemplars nearest to the query
            (all-MiniLM-L6-v2 cosine similarity) among a seeded sample of
            ``similar_pool`` examples of that class, so the most similar exemplar's label
            predicts the query's more often than with random exemplars
            (:mod:`taskmix.mixture.neighbours`). Kinds, formats, symbols, numbers per
            class and class order are drawn as with ``random``; how many exemplars fit
            ``max_length``, and so which queries fill the cap, can differ. Not in the paper.
        similar_pool: with ``similar``, how many examples of each class (a seeded sample,
            the same for every query of a task; more than ``max_exemplars_per_class``) the
            nearest exemplars are taken from; larger means nearer neighbours and more texts
            to embed.
        similar_share: with ``similar``, the share of each class's exemplars (rounded up,
            so at least one) that are the nearest ones; the others are that class's random
            exemplars (those ``random`` would show, less any nearest one), so the nearest
            exemplar is always there while the rest of the context looks like an evaluation
            prompt's. The share is of the exemplars drawn: fitting ``max_length`` drops random
            ones first, so a prompt can show a larger share. 1 (the default): all nearest,
            what ``similar`` did before this field.
        max_length: longest prompt plus target, in tokens of ``tokenizer`` (or estimated as
            characters / ``chars_per_token`` when no tokenizer is given).
        tokenizer: model folder or alias whose tokenizer measures lengths; empty to estimate.
        chars_per_token: the estimate used when ``tokenizer`` is empty.
        instruction_share: fraction of prompts (0-1) that keep natural labels and put the
            task instruction first (instruction-tuning data mixed in, the paper's remedy for
            small models); the rest are symbol prompts without instruction.
        flipped_share: fraction (0-1) of the other prompts of a two-class task that show
            the task's natural label words swapped instead of symbols, without instruction
            (the evaluation's ``flipped`` setting, on tuning tasks): the exemplars contradict
            the words' meaning, so the query's label can only be read from the context.
            Not in the paper (its tuning prompts use symbols only); 0 (the default) builds the
            paper's mixture, byte for byte what mixtures built before this field were. Tasks
            with more than two classes keep symbols. The draw is per query and independent
            of the other choices, so raising it turns some symbol prompts into flipped ones
            and leaves every other prompt as it was.
        symbol_kind: draw symbols of one kind only (``integer``, ``letters``, ``word``); empty: all.
        formats: input/label formats to draw from (names in taskmix.prompts.formats); empty: all.
        seed: the seed of every random choice; same config, same bytes.
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    extra_tasks: tuple[str, ...] = ()
    split: str = "train"
    per_task_cap: int = 25_000
    min_exemplars_per_class: int = 2
    max_exemplars_per_class: int = 10
    class_counts: str = field(default="equal", metadata={KEY_NEUTRAL: "equal"})  # added later: equal is the old way
    exemplar_choice: str = field(default="random", metadata={KEY_NEUTRAL: "random"})  # added later: random is the old way
    similar_pool: int = field(default=256, metadata={KEY_NEUTRAL: 256})  # only read with exemplar_choice: similar
    similar_share: float = field(default=1.0, metadata={KEY_NEUTRAL: 1.0})  # added later: 1 is the old way
    max_length: int = 1024
    tokenizer: str = ""
    chars_per_token: float = 4.0
    instruction_share: float = 0.0
    flipped_share: float = field(default=0.0, metadata={KEY_NEUTRAL: 0.0})  # added later: 0 is the old way
    symbol_kind: str = ""
    formats: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ConfigError(f"mixture config: {name} {why}, got {getattr(self, name)!r}")

        if not self.all_tasks:
            bad("tasks", "must name at least one task")
        if any(not str(t).strip() for t in self.all_tasks):
            bad("tasks", "must not hold an empty task name")
        if len(set(self.all_tasks)) != len(self.all_tasks):
            bad("tasks", "must not repeat a task")
        if self.per_task_cap < 1:
            bad("per_task_cap", "must be >= 1")
        if self.min_exemplars_per_class < 1:
            bad("min_exemplars_per_class", "must be >= 1")
        if self.max_exemplars_per_class < self.min_exemplars_per_class:
            bad("max_exemplars_per_class", "must be >= min_exemplars_per_class")
        if self.class_counts not in CLASS_COUNTS:
            bad("class_counts", f"must be one of {', '.join(CLASS_COUNTS)}")
        if self.exemplar_choice not in EXEMPLAR_CHOICES:
            bad("exemplar_choice", f"must be one of {', '.join(EXEMPLAR_CHOICES)}")
        if self.exemplar_choice == "similar" and self.similar_pool <= self.max_exemplars_per_class:
            bad("similar_pool", "must be > max_exemplars_per_class with exemplar_choice: similar")
        if not 0.0 < self.similar_share <= 1.0:
            bad("similar_share", "must be in (0, 1]")
        if self.similar_share != 1.0 and self.exemplar_choice != "similar":
            bad("similar_share", "must be 1 unless exemplar_choice: similar")
        if self.max_length < 16:
            bad("max_length", "must be >= 16")
        if not self.chars_per_token > 0:
            bad("chars_per_token", "must be > 0")
        if not 0.0 <= self.instruction_share <= 1.0:
            bad("instruction_share", "must be in [0, 1]")
        if not 0.0 <= self.flipped_share <= 1.0:
            bad("flipped_share", "must be in [0, 1]")
        if self.seed < 0:
            bad("seed", "must be >= 0")
        if self.symbol_kind:
            if self.symbol_kind not in KINDS:
                bad("symbol_kind", f"must be one of {', '.join(KINDS)} or empty")
        if self.formats:
            for name in self.formats:
                get_format(name)

    @property
    def all_tasks(self) -> tuple[str, ...]:
        return tuple(self.tasks) + tuple(self.extra_tasks)
