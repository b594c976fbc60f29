"""Keep a command's output to its result: engine start-up logs, warnings and bars off unless -v.

vLLM, transformers, torch and the Hugging Face hub each announce themselves on start-up
(platform detection, chunked-prefill notes, generation-config advice, deprecation warnings,
"Loading checkpoint shards" bars). A judge run should print the verdict. Without ``--verbose``
this module, called before any engine is imported, raises those libraries' log levels to ERROR
through their own switches (environment variables they read at import, and their loggers),
hides the load-time progress bars, and ignores Python warnings raised outside grm. grm's own
log records stay at WARNING, so problems grm reports (abstentions, fallbacks) still show.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

#: Loggers of the libraries a command may load; raised to ERROR when not verbose.
NOISY_LOGGERS = (
    "vllm",
    "transformers",
    "torch",
    "accelerate",
    "peft",
    "trl",
    "datasets",
    "huggingface_hub",
    "filelock",
    "urllib3",
    "httpx",
    "ray",
    "gguf",
)

#: Environment switches the libraries read at import (set only where the user has not).
QUIET_ENV = {
    "VLLM_LOGGING_LEVEL": "ERROR",
    "VLLM_CONFIGURE_LOGGING": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "PYTHONWARNINGS": "ignore",  # inherited by worker processes (vLLM's engine core)
}


def configure_output(verbose: bool) -> None:
    """Set logging for a CLI run: INFO everywhere when ``verbose``, else quiet libraries.

    >>> configure_output(False)
    >>> logging.getLogger("vllm").getEffectiveLevel() == logging.ERROR
    True
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if verbose:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Warnings from libraries are noise for a user of the CLI; grm's own still show.
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"grm(\.|$)")


@contextlib.contextmanager
def quiet_output(verbose: bool) -> Iterator[None]:
    """:func:`configure_output` for the length of one command, then the process's own settings
    back: the environment switches it set, the libraries' logger levels and the warning
    filters. ``grm.cli.main`` called in a notebook or a test leaves nothing behind (a library
    that read a switch at import while the command ran keeps what it read).

    >>> with quiet_output(False):
    ...     logging.getLogger("vllm").getEffectiveLevel() == logging.ERROR
    True
    """
    env = {key: os.environ.get(key) for key in QUIET_ENV}
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    with warnings.catch_warnings():
        configure_output(verbose)
        try:
            yield
        finally:
            for key, value in env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
