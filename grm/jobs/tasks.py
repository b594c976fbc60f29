"""What a job does to one chunk of rows: label pairs or rank groups.

A task turns rows into items (:meth:`Task.item`), checks each item fits the model before the
batch (:meth:`Task.check`: a row too long for the context fails alone, with its reason), and
judges a chunk in ONE batched call (``RewardModel.compare_batch`` / ``rank_batch``). If that
call fails, the chunk's rows are judged one by one so a single bad row costs only itself.
The same :func:`judge_chunk` runs on one machine and inside every Ray actor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from grm.jobs.config import JobConfig
from grm.jobs.ids import chunk_budget, chunk_seed, content_id, raw_id
from grm.jobs.rows import pair_request, rank_item
from grm.ranking import RankConfig, Ranking, RankItem
from grm.types import JudgeRequest, Result, chain_dict

logger = logging.getLogger(__name__)

Record = dict[str, Any]
"""A shard line: ``id``, ``chunk``, ``row`` (the input row) and ``fields`` (the judge's
output) or ``error`` with ``stage`` (input, length, engine)."""


class Task(Protocol):
    name: str
    fmt: str
    """The input rows' shape (grm.rows.FORMATS; 'auto' detects it per row)."""

    def item(self, row: Mapping[str, Any]) -> Any: ...

    def key(self, item: Any) -> str: ...

    def check(self, rm: Any, item: Any, cfg: JobConfig) -> None: ...

    def judge(
        self, rm: Any, items: Sequence[Any], cfg: JobConfig, seed: int, budget: int | None
    ) -> list[dict[str, Any]]: ...


def _overrides(cfg: JobConfig, seed: int, budget: int | None) -> dict[str, Any]:
    return {**cfg.judge_options, "seed": seed, "budget": budget}


def _fits(rm: Any, template: Any, request: JudgeRequest, cfg: JobConfig) -> None:
    """Raise the judge's own error when the request cannot fit the context."""
    from grm.judge import prepare

    jc = rm.config.with_(k=cfg.k, **cfg.judge_options)
    prepare(rm.engine, template, request, 0, jc)


def verdict(r: Result) -> str:
    """'A', 'B', 'tie', or 'none' when every chain abstained (no verdict at all)."""
    label = r.label
    if label == "tie" and r.k_used > 0 and r.abstentions >= r.k_used:
        return "none"
    return str(label)


class LabelTask:
    """Judge a pair per row: verdict, probability, votes, k used, position consistency."""

    name = "label"

    def __init__(self, fmt: str = "auto") -> None:
        self.fmt = fmt

    def item(self, row: Mapping[str, Any]) -> JudgeRequest:
        return pair_request(row, self.fmt)

    def key(self, item: JudgeRequest) -> str:
        return content_id(item.prompt, item.responses, item.reference)

    def check(self, rm: Any, item: JudgeRequest, cfg: JobConfig) -> None:
        _fits(rm, rm.template, item, cfg)

    def judge(
        self,
        rm: Any,
        items: Sequence[JudgeRequest],
        cfg: JobConfig,
        seed: int,
        budget: int | None,
    ) -> list[dict[str, Any]]:
        results = rm.compare_batch(list(items), cfg.k, **_overrides(cfg, seed, budget))
        return [self.fields(r, cfg) for r in results]

    @staticmethod
    def fields(r: Result, cfg: JobConfig) -> dict[str, Any]:
        p = r.probability
        out: dict[str, Any] = {
            "grm_verdict": verdict(r),
            "grm_p_a": p,
            "grm_confidence": None if p is None else max(p, 1.0 - p),
            "grm_calibrated": r.calibrated,
            "grm_votes": list(r.votes),
            "grm_ties": r.ties,
            "grm_abstentions": r.abstentions,
            "grm_forced": r.forced,
            "grm_k": r.k_used,
            "grm_stopped_by": r.stopped_by,
            "grm_position_consistency": r.position_consistency,
            "grm_truncated_chars": list(r.truncated_chars),
            "grm_prompt_tokens": r.prompt_tokens,
            "grm_completion_tokens": r.completion_tokens,
        }
        if cfg.feedback:
            out["grm_feedback"] = r.feedback
        if cfg.chains:
            out["grm_chains"] = [chain_dict(c) for c in r.chains]
        return out


class RankTask:
    """Rank a group per row: order, scores, win rates and the best candidate (best-of-n)."""

    name = "rank"

    def __init__(self, fmt: str = "auto") -> None:
        self.fmt = fmt

    def item(self, row: Mapping[str, Any]) -> RankItem:
        return rank_item(row, self.fmt)

    def key(self, item: RankItem) -> str:
        return content_id(item.prompt, item.candidates, item.reference)

    def check(self, rm: Any, item: RankItem, cfg: JobConfig) -> None:
        if cfg.method == "pointwise":
            _fits(rm, rm.pointwise_template, JudgeRequest(item.prompt, item.candidates), cfg)
            return
        # Pairwise methods: the two longest candidates make the longest prompt.
        longest = sorted(item.candidates, key=len, reverse=True)[:2]
        _fits(rm, rm.template, JudgeRequest(item.prompt, tuple(longest), item.reference), cfg)

    def judge(
        self, rm: Any, items: Sequence[RankItem], cfg: JobConfig, seed: int, budget: int | None
    ) -> list[dict[str, Any]]:
        rank_cfg = RankConfig(**{**cfg.rank_options, "seed": seed})
        rankings = rm.rank_batch(
            list(items), cfg.method, cfg.k, rank_cfg, **_overrides(cfg, seed, budget)
        )
        return [self.fields(item, r, cfg) for item, r in zip(items, rankings, strict=True)]

    @staticmethod
    def fields(item: RankItem, r: Ranking, cfg: JobConfig) -> dict[str, Any]:
        out: dict[str, Any] = {
            "grm_method": r.method,
            "grm_order": list(r.order),
            "grm_scores": list(r.scores),
            "grm_win_rate": list(r.win_rate),
            "grm_best": r.best,
            "grm_best_response": item.candidates[r.best],
            "grm_comparisons": r.comparisons,
            "grm_k": r.chains,
            "grm_ties": sum(x.ties for x in r.results),
            "grm_abstentions": r.abstentions,
            "grm_tiebreaks": r.tiebreaks,
            "grm_prompt_tokens": r.prompt_tokens,
            "grm_completion_tokens": r.completion_tokens,
        }
        if cfg.chains:
            out["grm_chains"] = [[chain_dict(c) for c in x.chains] for x in r.results]
        return out


TASKS: dict[str, type[LabelTask] | type[RankTask]] = {"label": LabelTask, "rank": RankTask}


def get_task(name: str, fmt: str = "auto") -> Task:
    """The task ``name`` reading rows of shape ``fmt``."""
    if name not in TASKS:
        raise ValueError(f"task {name!r} is unknown; choose one of {', '.join(TASKS)}.")
    return TASKS[name](fmt)


def keyed(task: Task, row: Mapping[str, Any]) -> tuple[str, Any, str | None]:
    """(id, item, error): the row's content id and item, or a raw id and the reason.

    Rows with the same judged content share the id (one item, judged once); each input row
    still gets its own output row (:func:`grm.jobs.output.finalize`)."""
    try:
        item = task.item(row)
    except (ValueError, TypeError) as exc:
        return raw_id(row), None, str(exc)
    return task.key(item), item, None


def judge_chunk(
    rm: Any,
    task: Task,
    chunk: int,
    rows: Sequence[Mapping[str, Any]],
    cfg: JobConfig,
    total_rows: int,
) -> list[Record]:
    """Judge one chunk: rows sorted by id, one batched call, a record per row.

    The rows' order inside the chunk and the chunk's seed depend only on the ids and the
    job seed, so any worker judging this chunk gets the same verdicts.
    """
    entries = sorted((keyed(task, r) + (r,) for r in rows), key=lambda e: e[0])
    records: dict[str, Record] = {}
    good: list[tuple[str, Any, Mapping[str, Any]]] = []
    for rid, item, error, row in entries:
        if rid in records:
            continue  # the same content twice in the input: one item
        base: Record = {"id": rid, "chunk": chunk, "row": dict(row)}
        if error is not None:
            records[rid] = {**base, "stage": "input", "error": error}
            continue
        try:
            task.check(rm, item, cfg)
        except ValueError as exc:
            records[rid] = {**base, "stage": "length", "error": str(exc)}
            continue
        records[rid] = base
        good.append((rid, item, row))
    seed = chunk_seed(cfg.seed, chunk)
    if good:
        budget = chunk_budget(cfg.budget, len(good), total_rows)
        try:
            outs = task.judge(rm, [g[1] for g in good], cfg, seed, budget)
        except Exception as exc:  # one failing row must not cost the others
            logger.warning(
                "chunk %d failed as a batch (%s); judging its rows one by one", chunk, exc
            )
            for rid, item, _ in good:
                try:
                    records[rid]["fields"] = task.judge(rm, [item], cfg, seed, budget)[0]
                except Exception as row_exc:
                    records[rid]["stage"] = "engine"
                    records[rid]["error"] = f"{type(row_exc).__name__}: {row_exc}"
        else:
            for (rid, _, _), fields in zip(good, outs, strict=True):
                records[rid]["fields"] = fields
    return list(records.values())
