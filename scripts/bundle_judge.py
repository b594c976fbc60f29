"""Bundle a trained LoRA adapter as a judge loadable by name (grm/judges/<name>/).

Copies peft's ``adapter_config.json`` and ``adapter_model.safetensors`` (one folder per
adapter, applied in the order given) into ``grm/judges/<name>/``, writes its ``judge.yaml``
card, checks the 20 MB cap, then merges it into the embedded base once (into a temporary
cache) and loads it with ``RewardModel.load(name)`` to prove it works.

    python scripts/bundle_judge.py runs/judge-suite-sft/adapter --name grm-judge-135m \\
        --config training/configs/sft-suite.yaml \\
        --command "grm train training/configs/sft-suite.yaml" --temperature 1.0 \\
        --max-tokens 256 --description "SFT on the six verifiable task kinds (medium tier)"

An adapter trained over the SFT-merged model (a second LoRA stage) goes after the first:
``ADAPTER_SFT ADAPTER_GRPO``; the card then lists both and they merge in that order.
``--stack`` instead writes them as one adapter of their summed rank (:func:`stack_adapters`,
peft's "cat" combination), in bfloat16, so two r=16 stages fit the cap that one r=16 adapter
in float32 fills.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def stack_adapters(
    sources: list[Path],
    base: str | Path,
    out: Path,
    dtype: str = "bfloat16",
    rank: int | None = None,
) -> Path:
    """Write one LoRA adapter to ``out/stacked`` that equals applying ``sources`` in order.

    LoRA stage i adds ``s_i B_i A_i`` to a weight, and stage i+1 is trained over the weight
    stage i was merged into, so together they add ``sum_i s_i B_i A_i``: what peft's
    ``add_weighted_adapter(..., combination_type="cat")`` builds from adapters loaded side by
    side on ``base`` (rank ``sum r_i``, weights 1). Saved in ``dtype`` (float32 training
    keeps the factors in float32; bfloat16 halves the file).

    With ``rank`` below ``sum r_i`` it is peft's ``"svd"`` combination instead: each layer's
    summed update truncated to its best rank-``rank`` approximation (Eckart-Young), so three
    r=16 stages fit the size of two. What each layer loses is printed (the largest share of
    an update's Frobenius norm), to be checked on held-out pairs before the judge ships.
    """
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    names = [f"stage{i}" for i in range(len(sources))]
    peft_model = PeftModel.from_pretrained(model, str(sources[0]), adapter_name=names[0])
    for name, src in zip(names[1:], sources[1:], strict=True):
        peft_model.load_adapter(str(src), adapter_name=name)
    total = sum(peft_model.peft_config[n].r for n in names)
    if rank is not None and rank < total:
        peft_model.add_weighted_adapter(
            names, [1.0] * len(names), "stacked", combination_type="svd", svd_rank=rank
        )
        print(f"stacked at rank {rank} of {total}: {truncation_loss(peft_model, names):.2%} lost")
    else:
        peft_model.add_weighted_adapter(
            names, [1.0] * len(names), "stacked", combination_type="cat"
        )
    peft_model.save_pretrained(str(out), selected_adapters=["stacked"])
    folder = out / "stacked"
    path = folder / "adapter_model.safetensors"
    tensors = load_file(str(path))
    save_file({k: v.to(getattr(torch, dtype)).contiguous() for k, v in tensors.items()}, str(path))
    return folder


def truncation_loss(peft_model: object, names: list[str]) -> float:
    """The largest share, over the adapted layers, of the stages' summed update (Frobenius
    norm) that the ``stacked`` adapter misses."""
    import torch
    from peft.tuners.lora import LoraLayer

    worst = 0.0
    for module in peft_model.modules():  # type: ignore[attr-defined]
        if isinstance(module, LoraLayer) and "stacked" in module.lora_A:
            with torch.no_grad():
                full = sum(module.get_delta_weight(n) for n in names if n in module.lora_A)
                diff = module.get_delta_weight("stacked") - full
                worst = max(worst, float(diff.norm() / full.norm()))
    return worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("adapters", nargs="+", type=Path, help="peft adapter folder(s), in order")
    p.add_argument("--name", required=True, help="the name RewardModel.load will take")
    p.add_argument("--config", required=True, help="training config that rebuilds it")
    p.add_argument("--command", required=True, help="the command(s) that rebuild it")
    p.add_argument("--template", default="default")
    p.add_argument("--pointwise-template", default="pointwise")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--stopping", default=None, help='k="auto" rule measured on the judge')
    p.add_argument("--wave-size", type=int, default=None)
    p.add_argument("--confidence", type=float, default=None)
    p.add_argument(
        "--vote-prior-from",
        default=None,
        help="a bench_scaling.py report: the card's vote_prior is fitted to its chains",
    )
    p.add_argument("--description", default="")
    p.add_argument("--no-check", action="store_true", help="skip the merge-and-load check")
    p.add_argument("--stack", action="store_true", help="write the adapters as one (bfloat16)")
    p.add_argument(
        "--rank",
        type=int,
        default=None,
        help="with --stack: truncate the summed update to this rank (peft's svd combination)",
    )
    args = p.parse_args()

    from grm.judges import (
        ADAPTER_FILES,
        ADAPTIVE_KEYS,
        CARD_FILE,
        DECODING_KEYS,
        MAX_ADAPTER_BYTES,
        load_card,
    )

    dest = ROOT / "grm" / "judges" / args.name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    stacked = args.stack and len(args.adapters) > 1
    names = ["adapter"] if stacked or len(args.adapters) == 1 else []
    names = names or [f"adapter-{i}" for i in range(len(args.adapters))]
    with tempfile.TemporaryDirectory() as tmp:
        if stacked:
            from grm.default_model import default_model_path

            args.adapters = [
                stack_adapters(args.adapters, default_model_path(), Path(tmp), rank=args.rank)
            ]
        for src, sub in zip(args.adapters, names, strict=True):
            (dest / sub).mkdir()
            for f in ADAPTER_FILES:
                shutil.copy2(src / f, dest / sub / f)
    given = vars(args)  # the card's JudgeConfig sections: the options that were passed
    if args.vote_prior_from:
        from grm.benchmarks.replay import report_vote_prior

        given["vote_prior"] = [round(w, 4) for w in report_vote_prior(args.vote_prior_from)]
    card = {
        "name": args.name,
        "description": args.description,
        "base": "embedded",
        "adapters": names,
        "template": args.template,
        "pointwise_template": args.pointwise_template,
        "decoding": {k: given[k] for k in DECODING_KEYS if given.get(k) is not None},
        "adaptive": {k: given[k] for k in ADAPTIVE_KEYS if given.get(k) is not None},
        "rebuild": {"config": args.config, "command": args.command},
    }
    (dest / CARD_FILE).write_text(yaml.safe_dump(card, sort_keys=False))
    judge = load_card(dest)
    size = judge.adapter_bytes()
    print(f"{dest}: {size / 1e6:.2f} MB of adapter")
    if size > MAX_ADAPTER_BYTES:
        print(f"error: over the {MAX_ADAPTER_BYTES / 1e6:.0f} MB cap", file=sys.stderr)
        return 1
    if args.no_check:
        return 0
    import os

    from grm.default_model import default_model_path

    os.environ.setdefault("GRM_DEFAULT_MODEL", str(default_model_path()))
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GRM_CACHE_DIR"] = cache
        from grm import RewardModel
        from grm.judges import register_judge

        register_judge(dest, replace=True)
        with RewardModel.load(args.name, engine="transformers") as rm:
            print(f"loads as {rm.model_path}: template {rm.template.name}, {rm.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
