"""verl custom reward: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

verl calls a custom reward function once per sample with this signature and takes a float,
or a dict with a ``score`` key whose other keys it logs. This one asks a running
``grm serve`` to compare the solution with the ground truth (reference-guided judging) and
returns P(solution is at least as good as the reference) with the judge's statistics.
The judge runs in its own process (and GPU), as verl's reward-model workers do.

verl config (``ppo_trainer.yaml`` overrides)::

    custom_reward_function:
      path: /path/to/site-packages/grm/adapters/verl.py
      name: compute_score
    # the server address and token come from the environment of the verl workers:
    #   GRM_SERVER_URL=http://127.0.0.1:8000  GRM_API_TOKEN=...  GRM_K=4

    grm serve --model my-judge --engine vllm --k 4 --port 8000   # on the reward host
"""

from __future__ import annotations

import os
from typing import Any

from grm.reward_map import NEUTRAL, RewardMapConfig, map_reward

DEFAULT_URL = "http://127.0.0.1:8000"


def _question(data_source: str, extra_info: dict[str, Any] | None) -> str:
    info = extra_info or {}
    for key in ("question", "prompt", "problem", "query"):
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value:  # chat messages
            return "\n".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
    return f"(a task from {data_source}; no question was passed in extra_info)"


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    k: int | None = None,
    timeout: float = 600.0,
    reward: RewardMapConfig = NEUTRAL,
    **_: Any,
) -> dict[str, float]:
    """Score one solution against its ground truth through a grm server.

    ``url``, ``token`` and ``k`` default to ``$GRM_SERVER_URL``, ``$GRM_API_TOKEN`` and
    ``$GRM_K`` (verl's ``custom_reward_function.reward_kwargs`` may also set them). An empty
    solution scores 0 without a call. The score is the server's P(solution beats the ground
    truth) through :func:`grm.reward_map.map_reward`; a judgment without any verdict earns
    ``reward``'s value (0.5 by default: verl needs a float) and is flagged with
    ``grm_abstained``.
    """
    import httpx

    if not str(solution_str).strip():
        return {"score": 0.0, "grm_abstained": 0.0, "grm_k_used": 0.0}
    url = (url or os.environ.get("GRM_SERVER_URL") or DEFAULT_URL).rstrip("/")
    token = token or os.environ.get("GRM_API_TOKEN")
    k = k or int(os.environ.get("GRM_K", "0")) or None
    body = {
        "mode": "compare",
        "prompt": _question(data_source, extra_info),
        "responses": [str(solution_str), str(ground_truth)],
        "k": k,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{url}/judge", json=body, headers=headers, timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(
            f"grm server at {url} answered {response.status_code}: {response.text[:300]}"
        )
    out = response.json()
    no_verdict = out.get("winner") == "none"
    score = map_reward("pairwise", out.get("probability"), None, no_verdict, reward)
    return {
        # The float-only policies never give None; verl's prime manager needs floats.
        "score": 0.5 if score is None else score,
        "grm_abstained": float(no_verdict),
        "grm_k_used": float(out["k_used"]),
    }
