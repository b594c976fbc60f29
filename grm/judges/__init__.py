"""Trained judges shipped inside the package, loadable by name without training.

A bundled judge is a small LoRA adapter (peft's ``adapter_config.json`` and
``adapter_model.safetensors``) over the embedded default model, in a folder of this package
next to a ``judge.yaml`` card: the base, the template it was trained with, its decoding
defaults and the config and command that rebuild it. ``RewardModel.load("grm-judge-135m")``
(and ``grm judge --model grm-judge-135m``) resolves the name here: on first use the adapter
is applied to the base with peft and merged (``merge_and_unload``), and the merged model and
tokenizer are written to ``$GRM_CACHE_DIR/judges/<name>-<sha256 of the adapter>`` (a
temporary folder renamed into place, under a file lock, so two processes never race);
every engine then loads that folder like any checkpoint, and a second load reuses it.

A folder is registered only when its card and adapter files exist. Your own adapter over
the embedded base registers the same way: :func:`register_judge` on its folder.

>>> "grm-nonexistent" in judge_names()
False
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from grm.registry import Registry
from grm.templates.detect import JUDGE_CARD
from grm.templates.files import resolve_template_path

logger = logging.getLogger(__name__)

CARD_FILE = "judge.yaml"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
#: The issue's ceiling for what ships inside the wheel, per judge.
MAX_ADAPTER_BYTES = 20_000_000
#: Decoding defaults a card may set (JudgeConfig fields).
DECODING_KEYS = ("temperature", "top_p", "max_tokens")
#: k="auto" defaults a card may set (JudgeConfig fields): the setting measured on the judge.
ADAPTIVE_KEYS = ("stopping", "wave_size", "confidence", "max_k", "vote_prior")
_DONE = "grm-merged.ok"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BundledJudge:
    """One bundled judge: the contents of its ``judge.yaml`` and where its files are."""

    name: str
    """The name ``RewardModel.load`` takes, e.g. ``grm-judge-135m``."""
    directory: Path
    """The folder holding ``judge.yaml`` and the adapter folder(s)."""
    base: str = "embedded"
    """The model the adapter applies to: ``embedded`` (grm.default_model, the only one
    bundled judges may use: nothing is downloaded)."""
    adapters: tuple[str, ...] = (".",)
    """Adapter folders relative to ``directory``, applied and merged in order (e.g. an SFT
    adapter, then a GRPO adapter trained over the SFT-merged model)."""
    template: str = "default"
    """Pairwise template the judge was trained with (grm.templates registry)."""
    pointwise_template: str = "pointwise"
    """Pointwise template for ``score``."""
    decoding: Mapping[str, Any] = field(default_factory=dict)
    """JudgeConfig defaults the judge was evaluated with (temperature, top_p, max_tokens);
    explicit arguments to ``RewardModel.load`` win."""
    adaptive: Mapping[str, Any] = field(default_factory=dict)
    """``k="auto"`` defaults measured on this judge (stopping, wave_size, confidence,
    max_k); explicit arguments to ``RewardModel.load`` or the call win."""
    description: str = ""
    """One line: what it was trained on and how well it does."""
    rebuild: Mapping[str, str] = field(default_factory=dict)
    """``config`` (the training YAML) and ``command`` (the commands that rebuild it)."""

    def __post_init__(self) -> None:
        if self.base != "embedded":
            raise ValueError(
                f"{self.directory / CARD_FILE}: base must be 'embedded' (the packaged default "
                f"model), got {self.base!r}; a judge over another model is a checkpoint "
                "directory, not a bundled adapter."
            )
        if not self.adapters:
            raise ValueError(f"{self.directory / CARD_FILE}: adapters must list at least one.")
        for section, keys in (("decoding", DECODING_KEYS), ("adaptive", ADAPTIVE_KEYS)):
            bad = sorted(set(getattr(self, section)) - set(keys))
            if bad:
                raise ValueError(
                    f"{self.directory / CARD_FILE}: {section} has unknown keys {bad}; "
                    f"use {', '.join(keys)}."
                )
        from grm.templates import get_template

        get_template(self.template)  # unknown names raise with the registered ones
        get_template(self.pointwise_template)

    def adapter_dirs(self) -> list[Path]:
        return [(self.directory / a).resolve() for a in self.adapters]

    def missing_files(self) -> list[Path]:
        """Adapter files that are not there (an empty list when the judge is complete)."""
        return [d / f for d in self.adapter_dirs() for f in ADAPTER_FILES if not (d / f).is_file()]

    def adapter_bytes(self) -> int:
        return sum((d / f).stat().st_size for d in self.adapter_dirs() for f in ADAPTER_FILES)

    def digest(self, base: Path) -> str:
        """sha256 of the adapter files (in order) and the base they are merged into."""
        return adapters_digest(str(base.resolve()), self.adapter_dirs())


def adapters_digest(base: str, adapters: list[Path]) -> str:
    """sha256 of ``base`` (a path or hub id) and each adapter's files, in order: the merged
    model's identity, so a changed adapter or base gets a fresh cache folder."""
    h = hashlib.sha256(base.encode())
    for d in adapters:
        for f in ADAPTER_FILES:
            with (d / f).open("rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
    return h.hexdigest()


BUNDLED: Registry[BundledJudge] = Registry(
    "bundled judge",
    hint="Pass a checkpoint directory or hub id instead, or register an adapter folder "
    "with grm.judges.register_judge.",
)


def load_card(directory: str | Path) -> BundledJudge:
    """Read ``directory/judge.yaml`` (errors name the field and the fix)."""
    directory = Path(directory).resolve()
    path = directory / CARD_FILE
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be a mapping of fields, got {type(data).__name__}.")
    known = {f for f in BundledJudge.__dataclass_fields__ if f != "directory"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown fields {unknown}; the fields are {sorted(known)}.")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError(f"{path}: name is required (the name RewardModel.load takes).")
    adapters = data.pop("adapters", ["."])
    if isinstance(adapters, str):
        adapters = [adapters]
    for key in ("template", "pointwise_template"):  # a template file next to the card
        if isinstance(data.get(key), str):
            data[key] = resolve_template_path(data[key], directory)
    return BundledJudge(directory=directory, adapters=tuple(adapters), **data)


def register_judge(directory: str | Path, replace: bool = False) -> BundledJudge:
    """Register the judge in ``directory`` under its card's name; its files must exist."""
    judge = load_card(directory)
    missing = judge.missing_files()
    if missing:
        raise FileNotFoundError(
            f"judge {judge.name!r} lacks {', '.join(map(str, missing))}; save the LoRA adapter "
            "there (peft's save_pretrained)."
        )
    return BUNDLED.register(judge.name, judge, replace=replace)


def judge_names() -> list[str]:
    """Names of the bundled (and registered) judges."""
    return BUNDLED.names()


def _register_packaged() -> None:
    """Register every complete judge folder shipped in this package."""
    for card in sorted(_HERE.glob(f"*/{CARD_FILE}")):
        judge = load_card(card.parent)
        if judge.missing_files():
            logger.debug("%s has no adapter files yet; not registered", card.parent)
            continue
        BUNDLED.register(judge.name, judge)


def _looks_like_judge_name(model: str) -> bool:
    """A string meant as a bundled judge's name (so a typo errors instead of going to the
    hub): no such path, no ``/`` (a hub id or a path), and it starts with ``grm-`` or is close
    to a bundled name."""
    if "/" in model or os.sep in model or Path(model).expanduser().exists():
        return False
    if model.startswith("grm-"):
        return True
    return bool(difflib.get_close_matches(model, judge_names(), n=1, cutoff=0.8))


#: The name of the embedded default model itself (the base every bundled judge adapts), for
#: callers that name a model where None is not available, such as ``grm judge --model``.
EMBEDDED = "embedded"


def resolve_model(model: str | Path | None) -> str:
    """What to load for ``model``: the default model's folder for None or ``"embedded"`` (when
    no such folder exists), a bundled judge's merged folder for its name, a LoRA adapter
    folder's merged model (both merged on first use), anything else unchanged."""
    if model is None or (str(model) == EMBEDDED and not Path(EMBEDDED).exists()):
        from grm.default_model import default_model_path

        return str(default_model_path())
    name = str(model)
    if name in BUNDLED:
        return str(judge_path(name))
    if is_adapter_dir(name):
        return str(adapter_path(name))
    if _looks_like_judge_name(name):
        if not BUNDLED:
            raise ValueError(
                f"{name!r} is neither a directory nor a bundled judge, and this install bundles "
                "none; pass a checkpoint directory or hub id, or None for the default model."
            )
        BUNDLED.get(name)  # raises, listing the known names
    return name


def judge_path(name: str) -> Path:
    """The merged checkpoint of bundled judge ``name``, built on first use."""
    judge = BUNDLED.get(name)
    from grm.default_model import cache_dir, default_model_path

    base = default_model_path()
    digest = judge.digest(base)
    card = {
        "name": judge.name,
        "template": judge.template,
        "pointwise_template": judge.pointwise_template,
        "decoding": dict(judge.decoding),
        "adaptive": dict(judge.adaptive),
        "adapter_sha256": digest,
        "base": str(base),
    }
    dest = cache_dir() / "judges" / f"{judge.name}-{digest[:16]}"
    merged = _merge_once(dest, base, judge.adapter_dirs(), card)
    _refresh_card(merged, card)
    return merged


def _refresh_card(merged: Path, card: dict[str, Any]) -> None:
    """Keep the merged folder's card equal to the package's: the folder is named by the
    adapter's digest, so an edited ``judge.yaml`` (decoding or adaptive defaults) reuses a
    folder merged under the old card. The rewrite is atomic (a temporary file replaced)."""
    path = merged / JUDGE_CARD
    text = json.dumps(card, indent=2) + "\n"
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def is_adapter_dir(model: str | Path) -> bool:
    """A peft LoRA adapter folder (``adapter_config.json`` and the weights), such as a
    ``checkpoint-N`` of a ``grm train`` run with ``lora_r > 0``."""
    path = Path(model).expanduser()
    return all((path / f).is_file() for f in ADAPTER_FILES)


def adapter_path(directory: str | Path) -> Path:
    """The merged checkpoint of the LoRA adapter in ``directory``, built on first use.

    The base is the one the adapter names (``base_model_name_or_path`` in its
    ``adapter_config.json``, as peft writes it); the merged model goes to
    ``$GRM_CACHE_DIR/adapters/<folder>-<sha256 of base and adapter>`` like a bundled judge's.
    """
    directory = Path(directory).expanduser().resolve()
    config = json.loads((directory / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path")
    if not base:
        raise ValueError(
            f"{directory / 'adapter_config.json'} names no base_model_name_or_path; merge the "
            "adapter yourself (peft's merge_and_unload) and load the merged folder."
        )
    from grm.default_model import cache_dir

    digest = adapters_digest(str(base), [directory])
    dest = cache_dir() / "adapters" / f"{directory.parent.name}-{directory.name}-{digest[:16]}"
    return _merge_once(dest, base, [directory], None)


def _merge_once(
    dest: Path, base: str | Path, adapters: list[Path], card: dict[str, Any] | None
) -> Path:
    """Merge ``adapters`` into ``base`` at ``dest`` unless done: a temporary folder renamed
    into place under a file lock, so two processes never race and a crash leaves nothing."""
    if (dest / _DONE).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock"):
        if (dest / _DONE).is_file():  # another process merged it while we waited
            return dest
        start = time.perf_counter()
        logger.info("Merging %s into %s (one time)", ", ".join(map(str, adapters)), dest)
        tmp = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            merge_adapters(base, adapters, tmp)
            if card is not None:
                (tmp / JUDGE_CARD).write_text(json.dumps(card, indent=2) + "\n")
            (tmp / _DONE).write_text("ok\n")
            shutil.rmtree(dest, ignore_errors=True)  # a half-made folder from an old crash
            tmp.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info("Merged in %.1f s", time.perf_counter() - start)
    return dest


def merge_adapters(base: str | Path, adapters: list[Path], dest: Path) -> None:
    """Apply each LoRA adapter to ``base`` with peft, merge it, save model + tokenizer.

    The merge runs in float32 and the result stays float32: a LoRA update is small next to
    the weights, and bfloat16's 8-bit mantissa would round much of it away.
    """
    if importlib.util.find_spec("peft") is None:
        raise ImportError("A bundled judge needs peft to merge its adapter: pip install 'grm[hf]'.")
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    for adapter in adapters:
        try:
            peft_model = PeftModel.from_pretrained(model, str(adapter))
        except RuntimeError as err:  # size mismatch: trained over another model
            raise ValueError(
                f"the adapter in {adapter} does not fit the base {base}: {err}"
            ) from err
        model = peft_model.merge_and_unload(safe_merge=True)
    model.save_pretrained(dest)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(dest)
    if (Path(base) / "generation_config.json").is_file():
        GenerationConfig.from_pretrained(str(base)).save_pretrained(dest)


_register_packaged()
