#!/usr/bin/env bash
# The GPU claims, measured in one command on a CUDA machine (issue 27): the README main job on
# vLLM with CUDA, per-request seeds, the throughput table against the 0.95x goal, one GRPO step
# with TRL's colocated vLLM, and a 2-GPU data-parallel run when two GPUs are present.
#
#   bash scripts/gpu_check.sh             set up as the README's GPU section says, run the checks
#   bash scripts/gpu_check.sh --dry-run   print what it would run, run nothing (works on CPU)
#
# Installs nothing beyond the README's GPU section (scripts/setup.sh with the vllm extra; a
# no-op once done). The checks then fit 8 minutes on one GPU: each has its own time limit,
# cut further to what is left of the 8 minutes, and a failing or timed-out check does not
# stop the next. Every step's output goes to WORK/<step>.log (WORK: $GPU_CHECK_WORK or a
# temporary folder); the summary is printed and written as a JSON record to
# docs/records/gpu_check-<date>.json (grm.benchmarks.gpu_check reads the steps). Exit status 1
# when any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: bash scripts/gpu_check.sh [--dry-run]" >&2; exit 2 ;;
esac

BUDGET_S=480
PY=.venv/bin/python
GRM=.venv/bin/grm
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RECORD=docs/records/gpu_check-$STAMP.json
if [ "$DRY" = 1 ]; then
  WORK=${GPU_CHECK_WORK:-/tmp/gpu_check.XXXXXX}
else
  WORK=${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
  mkdir -p "$WORK"
  : >"$WORK/steps.jsonl"
fi
GPUS=$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU ')

# The README's GPU section, word for word.
SETUP=(env GRM_EXTRAS=vllm,train,serve,eval,ray,dev "TORCH_SPEC=vllm>=0.32,<0.33" bash scripts/setup.sh)

START=$(date +%s)

# step NAME LIMIT_S [--stdout FILE] COMMAND...: run it under its own limit (cut to what is left
# of the budget), its output in WORK/NAME.log (stdout to FILE when given), and append its exit
# status and seconds to WORK/steps.jsonl.
step() {
  local name=$1 limit=$2 out=""
  shift 2
  if [ "${1:-}" = "--stdout" ]; then out=$2; shift 2; fi
  if [ "$DRY" = 1 ]; then
    printf '[%s, at most %s s] %s%s\n' "$name" "$limit" "$*" "${out:+ > $out}"
    return 0
  fi
  local left=$((BUDGET_S - ($(date +%s) - START)))
  if [ "$left" -lt 20 ]; then
    printf '{"step": "%s", "skipped": "no time left of the %s s budget"}\n' "$name" "$BUDGET_S" \
      >>"$WORK/steps.jsonl"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (at most $limit s): $*"
  local t0 rc
  t0=$(date +%s.%N)
  if [ -n "$out" ]; then
    timeout --kill-after=15 "$limit" "$@" >"$out" 2>"$WORK/$name.log"
  else
    timeout --kill-after=15 "$limit" "$@" >"$WORK/$name.log" 2>&1
  fi
  rc=$?
  printf '{"step": "%s", "rc": %d, "timed_out": %s, "seconds": %.1f, "limit_s": %d, "log": "%s"}\n' \
    "$name" "$rc" "$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo true || echo false)" \
    "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" "$limit" "$WORK/$name.log" \
    >>"$WORK/steps.jsonl"
  [ "$rc" = 0 ] || echo "   $name failed (exit $rc); see $WORK/$name.log"
}

skip() {
  if [ "$DRY" = 1 ]; then
    printf '[%s] skipped: %s\n' "$1" "$2"
  else
    printf '{"step": "%s", "skipped": "%s"}\n' "$1" "$2" >>"$WORK/steps.jsonl"
  fi
}

if [ "$DRY" = 1 ]; then
  echo "GPU check, dry run: $GPUS GPU(s) seen by nvidia-smi; work folder $WORK"
  printf '[setup, not timed] %s\n' "${SETUP[*]}"
else
  "${SETUP[@]}" || { echo "setup failed: see the README's GPU section" >&2; exit 1; }
  START=$(date +%s)
fi

step environment 60 "$PY" -m grm.benchmarks.gpu_check environment "$WORK/environment.json"
step main_job 110 --stdout "$WORK/main_job.json" "$GRM" judge --example --engine vllm --json
step seeds 80 "$PY" -m grm.benchmarks.gpu_check seeds "$WORK/seeds.json"
step throughput 120 "$PY" scripts/bench_throughput.py --requests 32 --k 8 --max-tokens 128 \
  --skip-transformers --json "$WORK/throughput.json"
if [ "$DRY" = 1 ]; then
  step grpo_step 110 "$PY -m grm.benchmarks.gpu_check grpo-config $WORK/grpo && $GRM train $WORK/grpo/grpo.yaml"
else
  "$PY" -m grm.benchmarks.gpu_check grpo-config "$WORK/grpo" >/dev/null
  step grpo_step 110 "$GRM" train "$WORK/grpo/grpo.yaml"
fi
if [ "$GPUS" -ge 2 ]; then
  step data_parallel 90 --stdout "$WORK/data_parallel.json" "$GRM" judge --example \
    --engine vllm-async --engine-option data_parallel_size=2 --json
else
  skip data_parallel "needs 2 GPUs, nvidia-smi lists $GPUS"
fi

if [ "$DRY" = 1 ]; then
  printf '[record] %s -m grm.benchmarks.gpu_check record %s %s\n' "$PY" "$WORK" "$RECORD"
  exit 0
fi
"$PY" -m grm.benchmarks.gpu_check record "$WORK" "$RECORD" --command "bash scripts/gpu_check.sh"
