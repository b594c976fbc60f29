"""verl's reward loop as grm's distributed engine: the judge is deployed, scaled and placed by
verl, grm renders, samples through verl's router, parses and votes.

verl 0.7 and later compute rewards in their reward loop (``verl/experimental/reward_loop/``).
With ``reward_model.enable=True`` verl itself serves the reward model on vLLM or SGLang
replicas, colocated with the actor (woken for the reward step) or on a pool of its own, puts a
load-balancing HTTP router in front of them (``reward_loop/router/naive_router.py``: every
path is forwarded to a replica, so the replicas' OpenAI-compatible routes answer), and passes
its address to the custom reward function as ``reward_router_address`` (``host:port``, no
scheme) together with ``reward_model_tokenizer``, the reward model's tokenizer
(``reward_loop/reward_manager/naive.py``, ``dapo.py``, ``remote.py``: only when the reward
model is enabled). verl's own GenRM example (``tests/experimental/reward_loop/reward_fn.py``,
verl commit b178a3cd) sends one chat completion and parses one number from it.

:func:`compute_score` instead judges with grm: the solution is compared with the ground
truth (reference-guided, as :mod:`grm.adapters.verl`) by the checkpoint's template, k chains
in both response orders (``k="auto"``: adaptive waves), sent through the router by grm's
remote engine (:mod:`grm.inference.remote`: prompts rendered with the judge tokenizer's chat
template, ``POST /v1/completions`` with ``n`` chains, verdicts forced through
``logprob_token_ids``), parsed and aggregated by grm. The reward is P(solution beats the
ground truth), returned as verl's dict: ``score`` plus grm's extras, the same keys for every
sample (verl's ``RewardLoopManager.compute_rm_score`` builds one column per key of the first
sample).

A judgement that failed (the engine failed, every chain abstained) raises by default: verl
then fails the step loudly instead of training on a made-up reward. ``on_failure="value"``
returns ``failure_value`` instead, flagged ``grm_failed=1`` so the rate shows in verl's
metrics.

verl config (the legacy keys, read by every verl from 0.7 on; 0.7.1 and later migrate them to
``reward.*``)::

    reward_model.enable=True
    reward_model.model.path=/models/my-judge          # the judge checkpoint verl serves
    reward_model.rollout.name=vllm
    reward_model.enable_resource_pool=True            # standalone pool; False: colocated
    reward_model.n_gpus_per_node=8 reward_model.nnodes=1
    custom_reward_function.path=pkg://grm.adapters.verl_loop
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.k=8         # any keyword of compute_score
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from grm.adapters.verl import (
    OnFailure,
    _item,
    check_failure_policy,
    failed_row,
)
from grm.reward_map import DROP, map_reward

logger = logging.getLogger(__name__)

#: The extras every sample returns (verl builds one column per key of the first sample).
EXTRA_KEYS = ("grm_abstention_rate", "grm_k_used", "grm_failed")

_JUDGES: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def _judge(
    address: str,
    model: str,
    template: str | None,
    options: dict[str, Any],
    timeout_s: float,
) -> Any:
    """The judge behind one router, loaded once per process (a verl reward-loop worker)."""
    from grm import RewardModel

    key = (address, model, template, timeout_s, tuple(sorted(options.items(), key=str)))
    with _LOCK:
        rm = _JUDGES.get(key)
        if rm is None:
            url = address if address.startswith(("http://", "https://")) else f"http://{address}"
            rm = RewardModel.load(
                model,
                engine="remote",
                template=template,
                engine_options={"urls": (url,), "timeout_s": timeout_s},
                **options,
            )
            _JUDGES[key] = rm
            logger.info("grm judges through verl's router at %s (%s)", url, model)
        return rm


def _model_path(tokenizer: Any, model: str | None) -> str:
    if model:
        return model
    path = getattr(tokenizer, "name_or_path", None)
    if not path:
        raise ValueError(
            "reward_model_tokenizer carries no name_or_path; pass the judge checkpoint as "
            "custom_reward_function.reward_kwargs.model=/path/to/judge."
        )
    return str(path)


def _failure(reason: str, on_failure: OnFailure, failure_value: float | None) -> dict[str, float]:
    """verl.py's policy (raise, or the stated value), with this function's extra keys."""
    row = failed_row(reason, on_failure, failure_value)
    return {"score": row["score"], **dict.fromkeys(EXTRA_KEYS, 0.0), "grm_failed": 1.0}


def _check(on_failure: str, failure_value: float | None, address: Any, tokenizer: Any) -> None:
    check_failure_policy(on_failure, failure_value)
    if address is None or tokenizer is None:
        raise ValueError(
            "reward_router_address / reward_model_tokenizer were not passed: verl passes them "
            "only when it serves a reward model. Set reward_model.enable=True and "
            "reward_model.model.path=<judge checkpoint>, or use grm.adapters.verl with a "
            "running `grm serve` instead."
        )


async def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    reward_router_address: str | None = None,
    reward_model_tokenizer: Any = None,
    k: int | str | None = None,
    template: str | None = None,
    model: str | None = None,
    on_failure: OnFailure = "raise",
    failure_value: float | None = None,
    timeout_s: float = 600.0,
    judge_options: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, float]:
    """Judge one rollout against its ground truth on the reward model verl serves.

    verl's reward-loop managers (``naive``, ``dapo``, ``remote``, ``limited``) call it per
    sample with ``reward_router_address`` and ``reward_model_tokenizer``; the other keywords
    come from ``custom_reward_function.reward_kwargs``: ``k`` (an int, or ``"auto"`` for
    adaptive waves up to ``judge_options['max_k']``), ``template`` (default: the one the
    checkpoint was trained with), ``model`` (the checkpoint's path when the tokenizer's
    ``name_or_path`` is not it), ``judge_options`` (any :class:`grm.config.JudgeConfig`
    field: ``max_tokens``, ``temperature``, ``max_k``, ...), ``on_failure`` / ``failure_value``
    (see the module docstring).

    Returns ``{"score": P(solution beats ground truth), "grm_abstention_rate", "grm_k_used",
    "grm_failed"}``, all floats (verl averages each extra into its metrics). An empty
    solution scores 0.0 without a call.
    """
    _check(on_failure, failure_value, reward_router_address, reward_model_tokenizer)
    item = _item(data_source, solution_str, ground_truth, extra_info)
    if item is None:
        return {
            "score": 0.0,
            "grm_abstention_rate": 0.0,
            "grm_k_used": 0.0,
            "grm_failed": 0.0,
        }
    import asyncio

    from grm.judge import EngineError

    path = _model_path(reward_model_tokenizer, model)
    options = dict(judge_options or {})
    # The first call in a worker loads the tokenizer and asks the router for the served
    # model's name (blocking I/O): off the event loop, which verl shares across samples.
    rm = await asyncio.get_running_loop().run_in_executor(
        None, _judge, str(reward_router_address), path, template, options, timeout_s
    )
    try:
        (result,) = await rm.acompare_batch([item], k=k)
    except EngineError as err:
        return _failure(str(err), on_failure, failure_value)
    if result.no_verdict:
        return _failure(
            f"every one of its {result.k_used} chains abstained", on_failure, failure_value
        )
    score = map_reward("pairwise", result.probability, None, False, DROP)
    if score is None:  # an aggregator without a probability
        return _failure("the aggregator gave no probability", on_failure, failure_value)
    return {
        "score": float(score),
        "grm_abstention_rate": float(result.abstentions) / max(result.k_used, 1),
        "grm_k_used": float(result.k_used),
        "grm_failed": 0.0,
    }
