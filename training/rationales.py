"""Templated rationales for the SFT warm-start: short chains whose verdict follows from them.

RM-R1 (Chen et al. 2025) distils reasoning chains before RL because a small model does not
write the verdict format unprompted. A first attempt on this machine (two-digit addition,
chain "x + y = s. Response A says .. Response B says .. [[A]]") reached 100% format but 46%
accuracy: the chain computed the sum and still picked the wrong letter. The chains here make
every step a copy or a one-digit fact, so the verdict is a mechanical consequence:

    7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85. Response A says 86: wrong.
    Response B says 85: correct. Final verdict: [[B]]

the sum is built column by column (ones first, so the carry is known before the tens), each
response's claim is copied next to a one-word status, and the verdict names the slot whose
status is "correct". The tail is written in the format of the judge template in use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grm.training.tasks import TaskRow

from grm.templates import Template, get_template
from grm.templates.base import slot_label

_SAYS = {"addition": "says", "constraint": "ends with"}


def verdict_tail(template: str | Template, body: str, slot: int, scores: Sequence[int]) -> str:
    """Wrap reasoning ``body`` and a verdict for ``slot`` in the template's output format.

    Pointwise templates get ``scores`` (per slot, 1-10) instead of a letter.

    >>> verdict_tail("default", "B is right.", 1, ())
    'B is right. Final verdict: [[B]]'
    >>> verdict_tail("j1", "B is right.", 1, ())
    '<think>B is right.</think>\\n<answer>[[B]]</answer>'
    """
    tpl = get_template(template)
    letter = slot_label(slot)
    if tpl.name == "default":
        return f"{body} Final verdict: [[{letter}]]"
    if tpl.name == "rm-r1":
        return f"<eval>{body}</eval>\n<answer>[[{letter}]]</answer>"
    if tpl.name == "j1":
        return f"<think>{body}</think>\n<answer>[[{letter}]]</answer>"
    if tpl.name == "rrm":
        # The turn opens inside <think> (the distilled models' chat template).
        return f"{body}\n</think>\n\n\\boxed{{Assistant {slot + 1}}}"
    if tpl.name == "pointwise":
        listed = ", ".join(str(s) for s in scores)
        return (
            f"Principles: the answer must be right.\nCritique: {body}\nFinal Scores: [[{listed}]]"
        )
    if tpl.name == "judgelrm":
        return f"<think>{body}</think>\n" + "".join(f"<answer>{s}</answer>" for s in scores)
    raise ValueError(
        f"template {tpl.name!r} has no rationale format; use one of default, rm-r1, j1, rrm, "
        "pointwise, judgelrm, or pass SFT chains from a stronger judge instead."
    )


def rationale(row: TaskRow, order: Sequence[int], template: str | Template = "default") -> str:
    """The chain for a verifiable task item with its responses shown in ``order``.

    >>> from grm.training.tasks import addition_item
    >>> import random
    >>> row = addition_item(47, 38, random.Random(1))
    >>> text = rationale(row, (0, 1))
    >>> text.startswith("7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85.")
    True
    """
    says = _SAYS.get(row["task"], "says")
    parts = [row["check"]]
    for slot, idx in enumerate(order):
        status = "correct" if row["ok"][idx] else "wrong"
        parts.append(f"Response {slot_label(slot)} {says} {row['claims'][idx]}: {status}.")
    winner_slot = list(order).index(row["preferred"])
    scores = [9 if row["ok"][idx] else 2 for idx in order]
    return verdict_tail(template, " ".join(parts), winner_slot, scores)


# Cues of a reply that steers away from harm (HH-RLHF's harmless-base labels prefer such
# replies; Bai et al. 2022). They only describe what a reply says: the verdict comes from
# the pair's label, so every statement in the chain is true of the text it quotes.
_DECLINES = re.compile(
    r"\b(I(?:'m| am) sorry|I can(?:no|')t|I won't|I will not|I don't think|I do not think|"
    r"not (?:a good idea|appropriate|okay|ok|legal)|illegal|against the law|unsafe|"
    r"dangerous|harmful|I'd rather not|I would rather not|instead)\b",
    re.IGNORECASE,
)


def _describe(reply: str) -> str:
    words = reply.split()
    quote = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
    cue = _DECLINES.search(reply)
    if cue:
        what = f'it pushes back ("{cue.group(0)}")'
    elif reply.rstrip().endswith("?"):
        what = "it answers with a question"
    else:
        what = "it goes along with the request"
    return f'"{quote}" ({len(words)} words): {what}.'


def preference_rationale(
    row: TaskRow, order: Sequence[int], template: str | Template = "default"
) -> str:
    """A chain for a labelled pair with no verifiable facts (HH-RLHF and other human
    preferences): each reply quoted by its opening words with one observed cue (does it
    push back, ask a question, or go along), then the labelled reply named the more
    harmless one. The rule is lexical; the verdict is the label's, not the cue's.

    >>> row = {"responses": ["Sure, here is how.", "I'm sorry, I can't help with that."],
    ...        "preferred": 1}
    >>> print(preference_rationale(row, (0, 1)))  # doctest: +NORMALIZE_WHITESPACE
    Response A: "Sure, here is how." (4 words): it goes along with the request.
    Response B: "I'm sorry, I can't help with that." (7 words): it pushes back ("I'm sorry").
    Response B is the more harmless reply. Final verdict: [[B]]
    """
    parts = [
        f"Response {slot_label(slot)}: {_describe(str(row['responses'][idx]))}"
        for slot, idx in enumerate(order)
    ]
    winner_slot = list(order).index(row["preferred"])
    parts.append(f"Response {slot_label(winner_slot)} is the more harmless reply.")
    scores = [8 if idx == row["preferred"] else 3 for idx in order]
    return verdict_tail(template, " ".join(parts), winner_slot, scores)


# A wider lexicon of pushing back than _DECLINES, chosen on the training split of HH-RLHF
# harmless-base (1,109 pairs): "the only reply that pushes back, else the shorter one" picks
# the label in 57.6% of them, "the shorter reply" alone in 55.5% (grm.benchmarks.cue_rules,
# record hh-rules).
_PUSHBACK = re.compile(
    r"\b(sorry|can(?:no|')t|won't|will not|don't think|do not think|shouldn't|should not|"
    r"not (?:a good idea|appropriate|okay|ok|legal|sure|comfortable)|illegal|against the law|"
    r"unsafe|dangerous|harmful|rather not|instead|wrong|hurt|not something|I'm not|"
    r"I don't (?:know|understand)|why (?:do|would) you)\b",
    re.IGNORECASE,
)


def fewer_words(responses: Sequence[str]) -> int:
    """The reply with fewer words (the first on a tie).

    >>> fewer_words(["one two three", "one two"])
    1
    """
    words = [len(r.split()) for r in responses]
    return words.index(min(words))


def pushback_pick(responses: Sequence[str]) -> int:
    """The reply the harmlessness rule picks: the only one that pushes back (a phrase of
    ``_PUSHBACK``), else the one with fewer words (the first on a tie).

    >>> pushback_pick(["Sure, here is how to do it.", "Sorry, I won't help with that."])
    1
    >>> pushback_pick(["Here you go: step one, step two.", "Why?"])
    1
    """
    cues = [bool(_PUSHBACK.search(r)) for r in responses]
    return cues.index(True) if cues.count(True) == 1 else fewer_words(responses)


def rule_rationale(
    row: TaskRow, order: Sequence[int], template: str | Template = "default"
) -> str | None:
    """A chain whose verdict follows from what it states (the harmlessness rule of
    :func:`pushback_pick`), or None where the rule disagrees with the pair's label: such a
    chain would reason to one reply and name the other, which is what
    :func:`preference_rationale` taught (a judge trained on it scored below the base model).

    >>> row = {"responses": ["Sure, here is how.", "I'm sorry, I can't help with that."],
    ...        "preferred": 1}
    >>> print(rule_rationale(row, (0, 1)))  # doctest: +NORMALIZE_WHITESPACE
    Response A: "Sure, here is how." (4 words): it goes along.
    Response B: "I'm sorry, I can't help with that." (7 words): it pushes back ("sorry").
    Only Response B pushes back, so it is the more harmless reply. Final verdict: [[B]]
    >>> rule_rationale({**row, "preferred": 0}, (0, 1)) is None
    True
    """
    shown = [str(row["responses"][idx]) for idx in order]
    pick = pushback_pick(shown)
    if order[pick] != row["preferred"]:
        return None
    parts = []
    cues = []
    for slot, reply in enumerate(shown):
        words = reply.split()
        quote = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
        cue = _PUSHBACK.search(reply)
        cues.append(cue is not None)
        what = f'it pushes back ("{cue.group(0)}")' if cue else "it goes along"
        parts.append(f'Response {slot_label(slot)}: "{quote}" ({len(words)} words): {what}.')
    name = f"Response {slot_label(pick)}"
    if cues.count(True) == 1:
        parts.append(f"Only {name} pushes back, so it is the more harmless reply.")
    else:
        both = "Both push back" if all(cues) else "Neither pushes back"
        parts.append(f"{both}; {name} says less, so it gives less room for harm.")
    scores = [8 if slot == pick else 3 for slot in range(len(shown))]
    return verdict_tail(template, " ".join(parts), pick, scores)
