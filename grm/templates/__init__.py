"""Judge templates: a name-keyed registry of render + parse pairs."""

from grm.templates import multiturn, pairwise, pointwise, published  # noqa: F401  (registers)
from grm.templates.base import (
    Decoding,
    Template,
    neutralize,
    register_template,
    template_names,
)
from grm.templates.lookup import get_template

__all__ = [
    "Decoding",
    "Template",
    "get_template",
    "neutralize",
    "register_template",
    "template_names",
]
