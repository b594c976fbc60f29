"""Judge templates: a name-keyed registry of render + parse pairs."""

from grm.templates import multiturn, pairwise, pointwise  # noqa: F401  (registers the built-ins)
from grm.templates.base import (
    Template,
    get_template,
    neutralize,
    register_template,
    template_names,
)

__all__ = ["Template", "get_template", "neutralize", "register_template", "template_names"]
