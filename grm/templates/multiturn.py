"""Multi-turn and agent-trajectory judging: an overall score and one score per assistant turn.

For credit assignment in multi-turn RL a single reward for a whole episode is too coarse:
the judge reads the conversation (user, assistant, tool messages; assistant tool calls
included) and scores the whole of it plus each assistant turn, ending with

    Overall Score: [[7]]
    Turn Scores: [[8, 6, 7]]

A conversation becomes a :class:`~grm.types.JudgeRequest` through :func:`conversation_request`:
``prompt`` keeps the message list, ``responses[0]`` stands for the whole conversation (the
overall slot) and ``responses[1:]`` are the assistant turns, so the pointwise machinery
(forced scores, mean over chains, adaptive k) yields ``(overall, turn 1, turn 2, ...)``.
Every message is rendered as data with the same neutralising as a response, and the
message delimiters and score markers are defused inside it, so a turn cannot forge another
turn or plant its own score.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from grm.parsing import DEFAULT_MAX_TRAILING, Parsed, find_verdict, parse_score_list, to_score
from grm.templates.base import Template, register_template
from grm.types import JudgeRequest, Message, Result

#: ``responses[0]`` of a conversation request: the slot of the overall score.
OVERALL_SLOT = "(the whole conversation)"
ROLES = ("system", "user", "assistant", "tool")

_TURN_SCORES = re.compile(r"Turn Scores?:\s*\[\[([^\[\]]*)\]\]", re.I)
_OVERALL = re.compile(r"Overall Score:\s*\[\[\s*([0-9]+(?:\.[0-9]+)?)\s*\]\]", re.I)
_MESSAGE_TAG = re.compile(r"<(/?)(message_[0-9]+)", re.I)
_SCORE_MARKERS = re.compile(r"(overall\s+score|turn\s+scores?)(\s*:)", re.I)


def _content(message: Mapping[str, Any], index: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    raise ValueError(
        f"conversation[{index}]['content'] must be a string, a list of parts or None, "
        f"got {type(content).__name__}."
    )


def _tool_calls(message: Mapping[str, Any]) -> list[str]:
    """Tool calls as ``[tool call] name({...})`` lines (OpenAI and Hugging Face layouts)."""
    lines = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function", call) if isinstance(call, Mapping) else {}
        name = fn.get("name", "?") if isinstance(fn, Mapping) else "?"
        args = fn.get("arguments", {}) if isinstance(fn, Mapping) else {}
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        lines.append(f"[tool call] {name}({text})")
    return lines


def normalize_conversation(conversation: Sequence[Mapping[str, Any]]) -> tuple[Message, ...]:
    """Validate a message list and flatten each message to ``role``/``content`` (+ ``name``).

    An assistant message's tool calls are appended to its content as ``[tool call]`` lines.

    >>> normalize_conversation([{"role": "user", "content": "hi"}])
    ({'role': 'user', 'content': 'hi'},)
    """
    if isinstance(conversation, str) or not conversation:
        raise ValueError(
            "conversation must be a non-empty list of {'role', 'content'} messages, got "
            f"{conversation!r:.80}."
        )
    out: list[Message] = []
    for i, message in enumerate(conversation):
        if not isinstance(message, Mapping) or message.get("role") not in ROLES:
            raise ValueError(
                f"conversation[{i}] must be a dict whose 'role' is one of {', '.join(ROLES)}, "
                f"got {message!r:.80}."
            )
        text = "\n".join(
            part for part in [_content(message, i), *_tool_calls(message)] if part.strip()
        )
        flat: Message = {"role": str(message["role"]), "content": text}
        name = message.get("name") or message.get("tool_call_id")
        if message["role"] == "tool" and name:
            flat["name"] = str(name)
        out.append(flat)
    return tuple(out)


def assistant_turns(conversation: Sequence[Mapping[str, Any]]) -> tuple[int, ...]:
    """Indices of the assistant messages: turn t is ``conversation[assistant_turns(c)[t]]``.

    >>> assistant_turns([{"role": "user"}, {"role": "assistant"}, {"role": "tool"},
    ...                  {"role": "assistant"}])
    (1, 3)
    """
    return tuple(i for i, m in enumerate(conversation) if m.get("role") == "assistant")


def conversation_request(
    conversation: Sequence[Mapping[str, Any]], reference: str | None = None
) -> JudgeRequest:
    """A request for the multi-turn template: overall slot + one slot per assistant turn."""
    messages = normalize_conversation(conversation)
    turns = assistant_turns(messages)
    if not turns:
        raise ValueError(
            "conversation has no assistant message to score; add the assistant's turns."
        )
    texts = tuple(messages[i]["content"] or "(empty turn)" for i in turns)
    return JudgeRequest(messages, (OVERALL_SLOT, *texts), reference)


def _defuse(text: str) -> str:
    text = _MESSAGE_TAG.sub(lambda m: f"< {m.group(1)}{m.group(2)}", text)
    return _SCORE_MARKERS.sub(lambda m: re.sub(r"\s+", "-", m.group(1)) + m.group(2), text)


@register_template("multiturn", "trajectory")
class MultiTurn(Template):
    """A whole conversation or agent trajectory: ``Overall Score`` then ``Turn Scores``."""

    name = "multiturn"
    kind = "pointwise"
    verdict_prefix = "Overall Score: [["
    min_responses = 2
    max_responses = None
    default_temperature = 0.5
    low: ClassVar[float] = 1.0
    high: ClassVar[float] = 10.0

    def data(self, text: str) -> str:
        return _defuse(super().data(text))

    def check(self, request: JudgeRequest) -> None:
        prompt = request.prompt
        if isinstance(prompt, str) or request.responses[:1] != (OVERALL_SLOT,):
            raise ValueError(
                f"template {self.name!r} judges a conversation; build the request with "
                "grm.templates.multiturn.conversation_request(messages) or call "
                "RewardModel.score_turns."
            )
        n_turns = len(assistant_turns(prompt))
        if n_turns != len(request.responses) - 1:
            raise ValueError(
                f"the conversation has {n_turns} assistant turns but the request has "
                f"{len(request.responses) - 1} turn slots; use conversation_request."
            )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        self.check(request)
        if tuple(order) != tuple(range(len(request.responses))):
            raise ValueError(
                "the multi-turn template keeps the turns in order; pass shuffle=False."
            )
        conversation = request.prompt
        assert not isinstance(conversation, str)  # check() has rejected a plain prompt
        parts, turn = [], 0
        for i, message in enumerate(conversation):
            role = message["role"]
            if role == "assistant":
                turn += 1
                # The (possibly truncated) turn text lives in the request's responses.
                body, attrs = request.responses[turn], f' role="assistant" turn="{turn}"'
            else:
                body, attrs = str(message.get("content", "")), f' role="{role}"'
                if message.get("name"):
                    # An attribute value is escaped: a name cannot close the tag or the quote.
                    attrs += f' name="{html.escape(self.data(str(message["name"])), quote=True)}"'
            tag = f"message_{i + 1}"
            parts.append(f"<{tag}{attrs}>\n{self.data(body)}\n</{tag}>")
        if request.reference is not None:
            parts.append(f"<reference>\n{self.data(request.reference)}\n</reference>")
        example = ", ".join(f"s{t + 1}" for t in range(turn))
        instruction = (
            f"Judge the assistant in this conversation. For each of its {turn} turns, say "
            "what it did well, what is wrong and how it should be fixed (wrong tool calls, "
            "errors, ignored instructions, wasted steps). Then end with exactly two lines: "
            "'Overall Score: [[s]]' for the whole conversation and "
            f"'Turn Scores: [[{example}]]' with one score per assistant turn, in order; "
            "every score from 1 (poor) to 10 (excellent)."
        )
        return [
            {
                "role": "system",
                "content": self.system_prompt(
                    "You are a careful judge of conversations between a user and an AI "
                    "assistant that may call tools. You credit each assistant turn for its "
                    "own contribution to the outcome."
                ),
            },
            {"role": "user", "content": "\n\n".join(parts) + "\n\n" + instruction},
        ]

    def parse(self, text: str, n_responses: int) -> Parsed | None:
        turns = parse_score_list(
            text, _TURN_SCORES, n_responses - 1, self.low, self.high, tail_only=self.tail_only
        )
        if turns is None or turns.scores is None:
            return None
        last_turns = find_verdict(
            _TURN_SCORES, text, max_trailing=DEFAULT_MAX_TRAILING, tail_only=self.tail_only
        )
        before = text[: last_turns.start()] if last_turns is not None else text
        overall = find_verdict(
            _OVERALL, before, max_trailing=DEFAULT_MAX_TRAILING, tail_only=self.tail_only
        )
        if overall is None:
            return None
        value = to_score(overall.group(1), self.low, self.high)
        if value is None:
            return None
        return Parsed(scores=(value, *turns.scores))

    def score_suffix(self, slot: int, n: int) -> str:
        """The overall score and the last turn score close their ``[[...]]``."""
        return "]]" if slot == 0 or slot == n - 1 else self.score_separator

    def scores_so_far(self, scores: Sequence[int]) -> str:
        """Forced verdict: the overall score closes its line, then the turn list opens."""
        if not scores:
            return ""
        head = f"{scores[0]}]]\nTurn Scores: [["
        return head + "".join(f"{s}{self.score_separator}" for s in scores[1:])


@dataclass(frozen=True)
class TurnScores:
    """Scores of one conversation: overall, and one per assistant turn (mean over chains).

    ``turn_messages[t]`` is the index in the conversation of assistant turn ``t``, so
    ``turns[t]`` is the credit for that message. Both are None when every chain abstained.
    """

    overall: float | None
    turns: tuple[float, ...] | None
    turn_messages: tuple[int, ...]
    result: Result

    def per_message(self) -> list[float | None]:
        """A score aligned with every message of the conversation (None: not an assistant
        turn, or no scores)."""
        size = max(self.turn_messages, default=-1) + 1
        out: list[float | None] = [None] * size
        for t, index in enumerate(self.turn_messages):
            out[index] = self.turns[t] if self.turns is not None else None
        return out


def turn_scores(conversation: Sequence[Mapping[str, Any]], result: Result) -> TurnScores:
    """Split a multi-turn result's slot scores into the overall and the per-turn scores."""
    turns = assistant_turns(conversation)
    if result.scores is None:
        return TurnScores(None, None, turns, result)
    if len(result.scores) != len(turns) + 1:
        raise ValueError(
            f"result has {len(result.scores)} scores for {len(turns)} assistant turns plus the "
            "overall; was it judged with the multi-turn template?"
        )
    return TurnScores(result.scores[0], tuple(result.scores[1:]), turns, result)
