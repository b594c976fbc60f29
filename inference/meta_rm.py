"""The meta reward model: a sequence classifier with one logit, P(chain right) = sigmoid.

It reads :func:`grm.meta.meta_text` of a chain and returns a logit; DeepSeek-GRM (Liu et al.
2025, arXiv:2504.02495) trains such a pointwise model with binary cross-entropy on the
judge's own chains and keeps the best-rated ones for the vote. Train one with
``grm train-meta`` (grm.training.meta_rm); load it with ``RewardModel.load(meta_rm=DIR)``.

>>> scorer = MetaRM(MetaRMConfig("runs/meta-rm"))          # doctest: +SKIP
>>> scorer.score_texts(["Question: ...\\nVerdict: A"])      # doctest: +SKIP
[1.37]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetaRMConfig:
    """Where the meta RM lives and how it scores."""

    path: str
    """Directory of an ``AutoModelForSequenceClassification`` with one label (a logit)."""
    batch_size: int = 16
    """Texts per forward pass (sorted by length first, so padding stays small)."""
    max_length: int = 1024
    """Most tokens per text; longer texts lose their beginning, since the chain's end and its
    verdict line are what the meta RM must read."""
    threads: int | None = None
    """torch CPU threads (``torch.set_num_threads``, process-wide); None keeps torch's."""
    device: str | None = None
    """'cpu', 'cuda', ...; None picks CUDA when available."""
    dtype: str = "float32"
    """Weights dtype: float32 (fastest on CPU), bfloat16 or float16."""

    def __post_init__(self) -> None:
        if not Path(self.path).is_dir():
            raise FileNotFoundError(
                f"meta RM directory {self.path} does not exist; train one with grm train-meta."
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}.")
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16 tokens, got {self.max_length}.")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None (torch's default), got {self.threads}.")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {self.dtype!r}.")


def meta_tokenizer(path: str) -> Any:
    """The meta RM's tokenizer: truncates from the left (the chain's end and its verdict line
    are what the meta RM must read), pads on the right, pads with EOS when it has no pad."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.truncation_side = "left"
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


class MetaRM:
    """Scores meta-RM texts in batches; implements :class:`grm.meta.ChainScorer`."""

    def __init__(self, config: MetaRMConfig | str | Path, **kw: Any) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        self.config = (
            config if isinstance(config, MetaRMConfig) else MetaRMConfig(str(config), **kw)
        )
        if self.config.threads is not None:
            torch.set_num_threads(self.config.threads)
        self.device = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = meta_tokenizer(self.config.path)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.config.path, torch_dtype=getattr(torch, self.config.dtype)
        )
        if model.config.num_labels != 1:
            raise ValueError(
                f"{self.config.path} has num_labels={model.config.num_labels}; a meta RM has "
                "one logit (train it with grm train-meta)."
            )
        if model.config.pad_token_id is None:
            model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model = model.to(self.device).eval()

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """One logit per text (higher: the chain's judgment is more likely right)."""
        import torch

        out = [0.0] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        bs = self.config.batch_size
        with torch.inference_mode():
            for start in range(0, len(order), bs):
                idx = order[start : start + bs]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.config.max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**enc).logits[:, 0].float().tolist()
                for i, s in zip(idx, logits, strict=True):
                    out[i] = float(s)
        return out

    def close(self) -> None:
        """Drop the weights (the scorer cannot score afterwards)."""
        self.model = None
