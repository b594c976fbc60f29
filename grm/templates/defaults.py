"""Templates and decoding defaults for a model being loaded (what RewardModel.load applies).

An explicit template always wins; otherwise the checkpoint name picks its trained format
(:mod:`grm.templates.detect`), and an unknown model gets grm's default templates, logged
once. The chosen template's decoding defaults (its authors' max new tokens and top-p;
temperature is read from the template at sampling time) fill in what the caller left
unset.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from grm.templates.base import Template
from grm.templates.detect import detect
from grm.templates.lookup import get_template

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "default"
DEFAULT_POINTWISE = "pointwise"
#: A max_tokens below this share of the original budget cuts most chains.
LOW_BUDGET_SHARE = 0.125
_told: set[str] = set()


def choose_templates(
    model: str, template: str | Template | None, pointwise_template: str | Template | None
) -> tuple[Template, Template]:
    """The pairwise and pointwise templates for ``model`` (explicit choices win)."""
    pair = get_template(template) if template is not None else None
    point = get_template(pointwise_template) if pointwise_template is not None else None
    if pair is not None and point is not None:
        return pair, point
    found = detect(model)
    if found is None:
        if model not in _told:
            _told.add(model)
            logger.info(
                "%s is not a published judge grm knows; using the %r and %r templates "
                "(pass template= to choose one, see docs/templates.md).",
                model,
                DEFAULT_TEMPLATE,
                DEFAULT_POINTWISE,
            )
        pair_name, point_name = DEFAULT_TEMPLATE, DEFAULT_POINTWISE
    else:
        logger.info(
            "%s is %s: templates %r / %r (matched %r)",
            model,
            found.judge.family,
            found.judge.template,
            found.judge.pointwise_template,
            found.matched,
        )
        pair_name, point_name = found.judge.template, found.judge.pointwise_template
    return pair or get_template(pair_name), point or get_template(point_name)


def apply_decoding(
    template: Template, config: Mapping[str, Any], max_context: int
) -> dict[str, Any]:
    """``config`` with the template's decoding defaults for what the caller left unset.

    The original max new tokens is capped at half the engine's context (the prompt needs
    the rest), with a log line when it is.

    >>> from grm.templates import get_template
    >>> apply_decoding(get_template("rrm"), {}, 32768)
    {'max_tokens': 8192}
    >>> apply_decoding(get_template("rrm"), {"max_tokens": 64}, 32768)
    {'max_tokens': 64}
    """
    out = dict(config)
    dec = template.decoding
    if "max_tokens" not in out and dec.max_tokens is not None:
        cap = max(max_context // 2, 1)
        if dec.max_tokens > cap:
            logger.info(
                "the %s format was evaluated with up to %d new tokens; the %d-token context "
                "allows %d (raise max_model_len for longer chains).",
                template.name,
                dec.max_tokens,
                max_context,
                cap,
            )
        out["max_tokens"] = min(dec.max_tokens, cap)
    if "top_p" not in out and dec.top_p is not None:
        out["top_p"] = dec.top_p
    return out


def budget_too_low(template: Template, max_tokens: int) -> bool:
    """Whether ``max_tokens`` is so far below the format's original budget that most
    chains would be cut before their verdict.

    >>> from grm.templates import get_template
    >>> budget_too_low(get_template("rrm"), 256), budget_too_low(get_template("rrm"), 4096)
    (True, False)
    """
    budget = template.decoding.max_tokens
    return budget is not None and max_tokens < LOW_BUDGET_SHARE * budget
