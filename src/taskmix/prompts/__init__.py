"""In-context prompts: input/label formats (:mod:`.formats`) and the prompt builder
(:mod:`.builder`) that picks exemplars, remaps labels and fits a context budget."""

from .formats import FORMAT_NAMES, FORMATS, PromptFormat, choose_format, get_format

__all__ = ["FORMAT_NAMES", "FORMATS", "PromptFormat", "choose_format", "get_format"]
