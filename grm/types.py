"""Core value types: what goes into a judge and what comes out.

These are plain frozen dataclasses with no engine, trainer or server imports, so every
other layer (templates, aggregation, engines, faces) can depend on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Message = dict[str, str]
#: A prompt is a plain string or a chat conversation (a list of ``{"role", "content"}``).
Prompt = str | Sequence[Message]


def prompt_text(prompt: Prompt) -> str:
    """Flatten a prompt to text for a judge template.

    A conversation becomes ``role: content`` lines, so a judge sees the whole context.
    """
    if isinstance(prompt, str):
        return prompt
    lines = []
    for i, message in enumerate(prompt):
        if not isinstance(message, dict) or "content" not in message:
            raise ValueError(
                f"prompt[{i}] must be a dict with 'role' and 'content', got {message!r}; "
                "pass a string or a list of chat messages."
            )
        lines.append(f"{message.get('role', 'user')}: {message['content']}")
    return "\n".join(lines)


def _content_text(content: object) -> str:
    """Message content: a string, or a list of parts (only the text parts are read)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _tool_calls_text(calls: object) -> str:
    """Tool calls as text lines: ``[tool call] name({"arg": 1})``."""
    import json

    lines = []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        args = fn.get("arguments", {}) if isinstance(fn, dict) else {}
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False, sort_keys=True)
        name = fn.get("name", "?") if isinstance(fn, dict) else "?"
        lines.append(f"[tool call] {name}({args})")
    return "\n".join(lines)


def response_text(response: str | Sequence[Message]) -> str:
    """A response may be a string or a message list (TRL's conversational completions).

    An assistant message that only calls tools has ``content`` None: its tool calls are
    what it said, so they are shown as text.

    >>> response_text([{"role": "assistant", "content": None,
    ...                 "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1}}}]}])
    '[tool call] add({"a": 1})'
    """
    if isinstance(response, str):
        return response
    parts = []
    for m in response:
        if not isinstance(m, dict):
            continue
        text = "\n".join(
            t for t in (_content_text(m.get("content")), _tool_calls_text(m.get("tool_calls"))) if t
        )
        if text:
            parts.append(text)
    return "\n".join(parts)


@dataclass(frozen=True)
class JudgeRequest:
    """One thing to judge: a prompt, two or more responses, an optional reference answer."""

    prompt: Prompt
    responses: tuple[str, ...]
    reference: str | None = None

    def __post_init__(self) -> None:
        text = prompt_text(self.prompt)
        if not text.strip():
            raise ValueError("prompt is empty; pass the user's question or conversation.")
        responses = tuple(response_text(r) for r in self.responses)
        object.__setattr__(self, "responses", responses)
        if len(responses) < 1:
            raise ValueError("responses is empty; pass at least one response to judge.")
        for i, r in enumerate(responses):
            if not r.strip():
                raise ValueError(
                    f"responses[{i}] is empty or whitespace; a judge needs text to read "
                    "(drop the item, or score it 0 yourself)."
                )

    @property
    def prompt_str(self) -> str:
        return prompt_text(self.prompt)


@dataclass(frozen=True)
class Judgment:
    """What one reasoning chain concluded, in the request's original response order.

    ``winner`` is the index of the preferred response (pairwise), ``scores`` the per-response
    scores (pointwise), ``p_first`` the verdict probability of response 0 where the verdict
    token's probability was read. A chain with neither winner nor scores is an abstention.
    """

    winner: int | None = None
    scores: tuple[float, ...] | None = None
    p_first: float | None = None
    tie: bool = False

    @property
    def abstained(self) -> bool:
        return self.winner is None and self.scores is None and not self.tie


@dataclass(frozen=True)
class Chain:
    """One sampled reasoning chain with its provenance."""

    text: str
    order: tuple[int, ...]
    judgment: Judgment
    forced: bool = False
    completion_tokens: int = 0
    finish_reason: str | None = None
    critique: str | None = None
    budget_hit: bool = False
    """The chain reached the thinking budget (``max_think_tokens``) and was closed there."""
    meta_score: float | None = None
    """The meta RM's logit that this chain's judgment is right (see grm.meta); None when
    no meta RM rated it."""


def chain_dict(c: Chain, text: bool = True) -> dict[str, Any]:
    """A chain as JSON (the one schema of every output that holds chains: ``grm judge
    --chains``, the server's ``chains``, ``grm label --chains``, saved-chain files):
    ``order``, ``winner`` (a response index or None), ``scores``, ``tie``, ``p_first``,
    ``forced``, ``tokens``, ``meta_score``, and ``text`` unless ``text=False``.

    >>> c = Chain("A is right. [[A]]", (1, 0), Judgment(winner=1), completion_tokens=6)
    >>> chain_of(chain_dict(c)) == c
    True
    """
    j = c.judgment
    out: dict[str, Any] = {"text": c.text} if text else {}
    out.update(
        order=list(c.order),
        winner=j.winner,
        scores=list(j.scores) if j.scores is not None else None,
        tie=j.tie,
        p_first=j.p_first,
        forced=c.forced,
        tokens=c.completion_tokens,
        meta_score=c.meta_score,
    )
    return out


def chain_of(d: dict[str, Any]) -> Chain:
    """The inverse of :func:`chain_dict` (fields it lacks take Chain's defaults)."""
    scores = d.get("scores")
    judgment = Judgment(
        winner=d.get("winner"),
        scores=tuple(scores) if scores is not None else None,
        p_first=d.get("p_first"),
        tie=bool(d.get("tie", False)),
    )
    return Chain(
        d.get("text", ""),
        tuple(d["order"]),
        judgment,
        bool(d.get("forced", False)),
        int(d.get("tokens", 0)),
        meta_score=d.get("meta_score"),
    )


# Directive feedback: a score says how good a response is; the critique says what is wrong
# and how to fix it. Each template extracts a chain's critique (Template.critique);
# select_feedback picks the one a result reports. It lives beside Chain and Result because
# Result.feedback reports it.


def _agreement(chain: Chain, winner: int | None, scores: Sequence[float] | None) -> float:
    """How far a chain is from the final verdict: 0 agrees; larger is further."""
    j = chain.judgment
    if scores is not None and j.scores is not None and len(j.scores) == len(scores):
        # Pointwise: L1 distance to the aggregated scores (closest = most representative).
        return sum(abs(a - b) for a, b in zip(j.scores, scores, strict=True))
    if winner is None:
        return 0.0 if j.tie else 1.0
    return 0.0 if j.winner == winner else float("inf")


def select_feedback(
    chains: Sequence[Chain], winner: int | None, scores: Sequence[float] | None = None
) -> str | None:
    """The critique of the chain that best agrees with the final verdict.

    Pairwise: a chain whose winner is the result's winner; pointwise: the chain whose scores
    are closest to the aggregated ones. Among equals, a chain that finished on its own (not
    forced, not cut at the thinking budget) is preferred, then one that saw the responses in
    the caller's order (its "Response A" is the caller's first response; a position-balanced
    chain shown (B, A) names them the other way round), then the earliest. None when no
    agreeing chain has a critique.

    >>> a = Chain("x", (0, 1), Judgment(winner=1), critique="B is wrong: 2+2 is 4.")
    >>> b = Chain("y", (0, 1), Judgment(winner=0), critique="A states 4; correct.")
    >>> select_feedback([a, b], winner=0)
    'A states 4; correct.'
    >>> swapped = Chain("z", (1, 0), Judgment(winner=0), critique="B states 4; correct.")
    >>> select_feedback([swapped, b], winner=0)
    'A states 4; correct.'
    """
    best: tuple[float, int, int, int] | None = None
    pick: str | None = None
    for i, chain in enumerate(chains):
        text = (chain.critique or "").strip()
        if not text:
            continue
        distance = _agreement(chain, winner, scores)
        if distance == float("inf"):
            continue
        reordered = int(list(chain.order) != sorted(chain.order))
        key = (distance, int(chain.forced or chain.budget_hit), reordered, i)
        if best is None or key < best:
            best, pick = key, text
    return pick


@dataclass(frozen=True)
class Result:
    """Aggregated outcome of k chains on one request.

    ``winner`` is the index of the preferred response (``None`` on a tie or when every chain
    abstained: :attr:`label` tells the two apart as ``"tie"`` and ``"none"``);
    ``probability`` is the probability that response 0 is preferred (pairwise) or that the
    winner is best (pointwise), from the aggregator's rule.
    """

    winner: int | None
    probability: float | None
    votes: tuple[int, ...]
    scores: tuple[float, ...] | None
    ties: int
    abstentions: int
    forced: int
    k_used: int
    chains: tuple[Chain, ...]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    position_consistency: float | None = None
    first_slot_rate: float | None = None
    truncated_chars: tuple[int, ...] = ()
    calibrated: bool = False
    stopped_by: str | None = None
    k_saved: int = 0
    aggregator: str = "majority"
    extra: dict[str, float] = field(default_factory=dict)
    k_meta: int | None = None
    """Meta-RM guided voting: how many chains were kept and voted over (None: no meta RM)."""
    meta_kept: tuple[int, ...] = ()
    """Meta-RM guided voting: indices into ``chains`` of the kept chains, in chain order."""

    @property
    def meta_scores(self) -> tuple[float | None, ...]:
        """The meta RM's logit per chain (None for a chain it did not rate)."""
        return tuple(c.meta_score for c in self.chains)

    @property
    def no_verdict(self) -> bool:
        """No chain gave any evidence: every chain abstained (or none was sampled)."""
        return (
            self.winner is None and self.scores is None and sum(self.votes) == 0 and not self.ties
        )

    @property
    def label(self) -> Literal["A", "B", "tie", "none"] | str:
        """The winner as a letter (A, B, C, ...); ``"tie"`` when the evidence is balanced;
        ``"none"`` when no chain gave a verdict (every chain abstained)."""
        if self.winner is not None:
            return chr(ord("A") + self.winner)
        return "none" if self.no_verdict else "tie"

    @property
    def p_a(self) -> float | None:
        """Pairwise: probability that response A (index 0) is the better one."""
        return self.probability

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def budget_hits(self) -> int:
        """Chains closed at the thinking budget (their verdicts were forced)."""
        return sum(c.budget_hit for c in self.chains)

    @property
    def feedback(self) -> str | None:
        """Directive feedback: the critique of a chain that agrees with the final verdict
        (what is wrong and how to fix it), or None when no chain gives one."""
        return select_feedback(self.chains, self.winner, self.scores)

    def summary(self) -> dict[str, object]:
        """A JSON-ready dict without the chain texts."""
        return {
            "winner": self.label,
            "probability": self.probability,
            "votes": list(self.votes),
            "scores": list(self.scores) if self.scores is not None else None,
            "ties": self.ties,
            "abstentions": self.abstentions,
            "forced": self.forced,
            "budget_hits": self.budget_hits,
            "feedback": self.feedback,
            "k_used": self.k_used,
            "k_saved": self.k_saved,
            "stopped_by": self.stopped_by,
            "position_consistency": self.position_consistency,
            "first_slot_rate": self.first_slot_rate,
            "truncated_chars": list(self.truncated_chars),
            "calibrated": self.calibrated,
            "aggregator": self.aggregator,
            "k_meta": self.k_meta,
            "meta_kept": list(self.meta_kept),
            "meta_scores": list(self.meta_scores) if self.k_meta is not None else None,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
        }
