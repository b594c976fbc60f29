"""Benchmarks in the package: one argument set, one data layer, one record of every run.

The commands in ``scripts/`` are thin: they parse their own options on top of
:func:`grm.benchmarks.cli.add_common` and call the functions here. Each run can write a
record (:class:`grm.benchmarks.record.Run`) to ``docs/records/``: the exact command line, the
git commit, the date, the machine (CPU model, cores, RAM, GPU if any), the load average at
start and end, every figure with its n and 95% bootstrap interval, and small per-item raw
results. ``python -m grm.benchmarks.render docs/benchmarks.md`` rewrites the tables of the
docs from those records (``--check`` fails when they differ). vLLM's ``vllm bench ...
--save-result`` and lm-evaluation-harness' results JSON are the models.

- :mod:`~grm.benchmarks.record`: machine notes, the run record, figures with intervals,
  percentiles.
- :mod:`~grm.benchmarks.cli`: the common options (model, engine, k, max tokens, seed, JSON).
- :mod:`~grm.benchmarks.data`: the request sets (held-out suite, JudgeBench, addition pairs).
- :mod:`~grm.benchmarks.replay`: plan order, stopping rules replayed on stored chains.
- :mod:`~grm.benchmarks.stored`: readers of stored ``bench_scaling`` reports.
- :mod:`~grm.benchmarks.scaling`: accuracy versus k, its tables and plot.
- :mod:`~grm.benchmarks.render`: tables of ``docs/benchmarks.md`` from records.
"""
