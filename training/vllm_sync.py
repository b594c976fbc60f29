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
  optimizer, torch) leaves a few MB or less than nothing, and the engine fails to start;
* :func:`repack_cpu_weights` — after the new tensors are loaded, pack every layer again so
  the kernels use them. :func:`patch_colocate_sync` wraps a trainer's ``sync_weights``.

On GPU none of this applies and TRL's own sync is used unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from typing import Any


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
    """Within the block, vLLM's CPU GEMM dispatch keeps ``layer.weight`` after packing, and
    the KV cache is ``kv_cache_gib`` unless ``VLLM_CPU_KVCACHE_SPACE`` says otherwise."""
    from vllm.model_executor.layers import utils

    original = utils.dispatch_cpu_unquantized_gemm
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
        if set_kv:
            os.environ.pop("VLLM_CPU_KVCACHE_SPACE", None)


def repack_cpu_weights(model: Any) -> int:
    """Pack each CPU linear layer of a vLLM ``model`` again from its current weight.

    Returns the number of layers repacked. A layer whose weight was removed (built outside
    :func:`keep_cpu_weights`) cannot be refreshed and raises.
    """
    from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm

    count = 0
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
        dispatch_cpu_unquantized_gemm(module, remove_weight=False)
        count += 1
    return count


def patch_colocate_sync(trainer: Any) -> None:
    """Make a TRL trainer's colocated vLLM sync refresh the packed CPU weights after loading."""
    generation = trainer.vllm_generation
    original = generation.sync_weights

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
        model = generation.llm.llm_engine.model_executor.driver_worker.model_runner.model
        repack_cpu_weights(model)

    generation.sync_weights = sync_weights
