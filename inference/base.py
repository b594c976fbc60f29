"""The one engine Protocol, its value types, and the engine registry.

An engine takes fully rendered prompt strings and returns sampled chains. It also reads the
next-token log-probabilities of a few choice strings (the forced verdict). Everything about
judging stays in the core; engines know nothing of templates or votes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from grm.registry import Registry
from grm.templates.chat import render_with_fallback
from grm.types import Message


@dataclass(frozen=True)
class SamplingConfig:
    """How chains are sampled. One config for every prompt of a batched call."""

    temperature: float = 0.7
    """Sampling temperature; 0 means greedy."""
    top_p: float = 1.0
    """Nucleus sampling mass, in (0, 1]."""
    max_tokens: int = 256
    """Most new tokens per chain; a chain cut here has finish_reason 'length'."""
    seed: int | None = 0
    """Seed for the sampler. vLLM on CPU takes it once per engine, not per request."""
    tip_alpha: float = 0.0
    """Thought-switch penalty (TIP, Wang et al. 2025) subtracted from the switch tokens'
    logits; 0 turns it off (see grm.inference.tip)."""
    tip_beta: int = 0
    """TIP window: the penalty holds for this many tokens after each switch token (and from
    the chain start)."""
    tip_words: tuple[str, ...] = ()
    """TIP switch words; each engine turns them into token ids for its tokenizer."""
    verdict_prefix: str = ""
    """In-line verdict forcing, with ``verdict_choices``; empty: off. An engine that can
    (vLLM) writes this prefix into every chain still running when only the prefix's tokens
    and one more fit under ``max_tokens``, and reads the choices' exact log-probabilities at
    that last token (:attr:`Completion.verdict_logprobs`), so a cut chain needs no second
    pass. Engines without it ignore both fields; the driver forces those chains apart."""
    verdict_choices: tuple[str, ...] = ()
    """The verdict's choice strings ("A", "B"), read after ``verdict_prefix``."""

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}.")
        if self.tip_alpha < 0 or self.tip_beta < 0:
            raise ValueError(
                f"tip_alpha and tip_beta must be >= 0, got {self.tip_alpha} and "
                f"{self.tip_beta}; set tip_alpha=0 to turn the penalty off."
            )
        if bool(self.verdict_prefix) != bool(self.verdict_choices):
            raise ValueError(
                "verdict_prefix and verdict_choices go together (in-line verdict forcing), "
                f"got {self.verdict_prefix!r} and {self.verdict_choices!r}; set both or neither."
            )

    @property
    def tip_on(self) -> bool:
        """Whether the thought-switch penalty applies."""
        return self.tip_alpha > 0 and self.tip_beta > 0 and bool(self.tip_words)


@dataclass(frozen=True)
class GenRequest:
    """One rendered prompt and how many chains to sample from it."""

    prompt: str
    n: int


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    finish_reason: str | None = None
    token_ids: tuple[int, ...] | None = None
    """The chain's token ids exactly as sampled (special tokens included); None where the
    engine cannot give them (a remote server). A forced verdict continues these ids."""
    verdict_logprobs: tuple[float, ...] | None = None
    """Where the engine forced the verdict in-line (``SamplingConfig.verdict_prefix``): the
    choices' log-probabilities after the prefix, in ``verdict_choices`` order. ``text`` and
    ``token_ids`` then end with the prefix, without the choice token drawn there."""


@dataclass(frozen=True)
class Generation:
    """The chains sampled for one :class:`GenRequest`."""

    prompt_tokens: int
    completions: list[Completion] = field(default_factory=list)
    prompt_token_ids: tuple[int, ...] | None = None
    """The prompt's token ids as the engine read them; None where it cannot give them."""


class TokenText(str):
    """A prompt string that also carries the token ids to send for it.

    The forced-verdict pass builds its prompts as prompt ids + the chain's own sampled ids +
    the verdict prefix's ids, so a prefix-caching engine (vLLM) finds every full block of
    prompt and chain in its cache; re-tokenising the joined text could split tokens
    differently at the joins and miss it. Engines that read ids (:meth:`ChatTokenizer.ids`)
    send ``token_ids``; every other engine reads the text, which is the same string.
    """

    token_ids: tuple[int, ...]

    def __new__(cls, text: str, token_ids: Sequence[int]) -> TokenText:
        obj = super().__new__(cls, text)
        obj.token_ids = tuple(token_ids)
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (TokenText, (str(self), self.token_ids))


@runtime_checkable
class TokenCodec(Protocol):
    """An engine's own tokenizer, where it exposes one (every :class:`ChatTokenizer`)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@runtime_checkable
class Engine(Protocol):
    """What a judge needs from a language-model backend."""

    name: str
    max_context: int

    def render_chat(self, messages: Sequence[Message]) -> str:
        """Apply the model's chat template, ending with the assistant's generation prompt."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """Sample ``r.n`` chains for every request, in ONE batched backend call."""
        ...

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """Exact next-token log-probability of each choice string's first token after each
        prompt (the full softmax, never a top-k floor)."""
        ...

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """Log-probability of each candidate continuation, as a whole token sequence, after
        each prompt (so "10," is scored as its own tokens, not as the "1" it starts with)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncEngine(Protocol):
    """The async side of :class:`Engine`: the same calls, awaited.

    Each awaited call is one request to the backend; concurrent calls from many clients are
    batched by the backend itself (vLLM's continuous batching in ``AsyncLLM``, or a remote
    server's). Cancelling the awaiting task aborts the backend work where the backend can
    (vLLM aborts the request; an HTTP request is dropped). Engines that have only the sync
    side get one through :func:`grm.inference.aio.as_async` (a worker thread).
    """

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """Sample ``r.n`` chains for every request; one await, however the backend splits it."""
        ...

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        """The async :meth:`Engine.choice_logprobs`."""
        ...

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """The async :meth:`Engine.sequence_logprobs` (forced pointwise scores)."""
        ...


class ChatTokenizer:
    """Chat rendering and token counting shared by engines that hold an HF ``tokenizer``.

    Prompts are encoded without added special tokens: the chat template already wrote them,
    and every engine then sees exactly the same ids for the same text.
    """

    tokenizer: Any

    def render_chat(self, messages: Sequence[Message]) -> str:
        """The chat template's text; a template that rejects the system role (Gemma-2)
        gets the system text merged into the first user turn."""
        return render_with_fallback(
            lambda ms: str(
                self.tokenizer.apply_chat_template(ms, tokenize=False, add_generation_prompt=True)
            ),
            messages,
        )

    def special_tokens(self) -> list[str]:
        """The tokenizer's special and added tokens (defused inside judged text)."""
        tok = self.tokenizer
        found = set(getattr(tok, "all_special_tokens", []) or [])
        decoder = getattr(tok, "added_tokens_decoder", None) or {}
        found.update(str(getattr(t, "content", t)) for t in decoder.values())
        return sorted(t for t in found if t and len(t) > 1)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``, special tokens kept (so a chain's end-of-turn id shows)."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))

    def ids(self, text: str) -> list[int]:
        """The token ids to send for a prompt: its own for a :class:`TokenText`."""
        return prompt_ids(self.encode, text)

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))


def prompt_ids(encode: Callable[[str], list[int]], text: str) -> list[int]:
    """A prompt's token ids: those it carries (a :class:`TokenText`), else its encoding."""
    if isinstance(text, TokenText):
        return list(text.token_ids)
    return encode(text)


def choice_token_ids(
    encode: Callable[[str], list[int]], prefix: str, choices: Sequence[str]
) -> list[int]:
    """The token id that starts each choice right after ``prefix``.

    The prompt is tokenised on its own, so the model's next token after it is what matters:
    when ``encode(prefix + choice)`` extends ``encode(prefix)``, that next id is taken;
    when the tokeniser merges across the boundary ("[[A" as one token), the choice's own
    first token is.
    """
    base = encode(prefix)
    ids = []
    for choice in choices:
        full = encode(prefix + choice)
        if len(full) > len(base) and full[: len(base)] == base:
            ids.append(full[len(base)])
        else:
            own = encode(choice)
            if not own:
                raise ValueError(f"choice {choice!r} encodes to no token")
            ids.append(own[0])
    if len(set(ids)) != len(ids):
        raise ValueError(f"choices {list(choices)} share a first token; they cannot be told apart")
    return ids


def continuation_ids(encode: Callable[[str], list[int]], prompt: str, text: str) -> list[int]:
    """The token ids that continue ``prompt`` with ``text`` (the prompt is encoded on its
    own, so where the tokenizer would merge across the boundary, ``text``'s own ids are).
    """
    context = prompt[-64:]
    base = encode(context)
    full = encode(context + text)
    if len(full) > len(base) and full[: len(base)] == base:
        return full[len(base) :]
    own = encode(text)
    if not own:
        raise ValueError(f"candidate {text!r} encodes to no token")
    return own


EngineFactory = Callable[..., Engine]
ENGINES: Registry[EngineFactory] = Registry("engine")


def register_engine(name: str, replace: bool = False) -> Callable[[EngineFactory], EngineFactory]:
    return ENGINES.register(name, replace=replace)


def engine_names() -> list[str]:
    return ENGINES.names()


def load_engine(name: str, model: str, **options: Any) -> Engine:
    """Build a registered engine by name; the backend is imported only here."""
    return ENGINES.get(name)(model, **options)
