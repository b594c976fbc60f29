"""The engine operations, and how each one runs: one home for the dispatch.

Step generators (:mod:`grm.driver`, :mod:`grm.judge`) yield three operations:
:class:`grm.judge.Generate`, :class:`grm.judge.ChoiceLogprobs` and
:class:`grm.forcing.SequenceLogprobs`. Every runner executes them through this module: the
sync driver (:func:`execute`), ``RewardModel``'s async side and the worker-thread bridge of
served ranking (:func:`aexecute`). A new operation is added here once, and every runner
gains it.
"""

from __future__ import annotations

from typing import Any

from grm.forcing import SequenceLogprobs
from grm.inference.base import AsyncEngine, Engine
from grm.judge import ChoiceLogprobs, EngineOp, Generate

__all__ = ["ChoiceLogprobs", "EngineOp", "Generate", "SequenceLogprobs", "aexecute", "execute"]


def execute(engine: Engine, op: EngineOp) -> Any:
    """Run one engine operation on a synchronous engine."""
    if isinstance(op, Generate):
        return engine.generate(op.requests, op.sampling)
    if isinstance(op, SequenceLogprobs):
        return engine.sequence_logprobs(op.prompts, op.candidates)
    return engine.choice_logprobs(op.prompts, op.choices)


async def aexecute(engine: AsyncEngine, op: EngineOp) -> Any:
    """Await one engine operation on an async engine."""
    if isinstance(op, Generate):
        return await engine.agenerate(op.requests, op.sampling)
    if isinstance(op, SequenceLogprobs):
        return await engine.asequence_logprobs(op.prompts, op.candidates)
    return await engine.achoice_logprobs(op.prompts, op.choices)
