"""Engines behind one Protocol: transformers (reference), vLLM, and the registry.

Backends are imported lazily: ``import grm.inference`` needs neither torch nor vLLM.
"""

# Registration is cheap: the engine modules import their backends inside the constructors.
from grm.inference import remote as _remote  # noqa: E402,F401
from grm.inference import transformers_engine as _transformers_engine  # noqa: E402,F401
from grm.inference import vllm_async as _vllm_async  # noqa: E402,F401
from grm.inference import vllm_engine as _vllm_engine  # noqa: E402,F401
from grm.inference.base import (
    AsyncEngine,
    Completion,
    Engine,
    Generation,
    GenRequest,
    SamplingConfig,
    engine_names,
    load_engine,
    register_engine,
)

__all__ = [
    "AsyncEngine",
    "Completion",
    "Engine",
    "Generation",
    "GenRequest",
    "SamplingConfig",
    "engine_names",
    "load_engine",
    "register_engine",
]
