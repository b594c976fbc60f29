#!/usr/bin/env bash
# Type-check grm as a user installs it. inference/, calibration/ and training/ become
# grm.inference, grm.calibration and grm.training only through pyproject's package-dir
# mapping, which mypy cannot follow in the source tree (nor through an editable install),
# so the tracked files are installed, non-editable, into a temporary directory and mypy runs
# on the installed `grm` package there, with the project's [tool.mypy] settings.
#
#   bash scripts/typecheck.sh            # uses .venv/bin/python (PYTHON=... to override)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py=${PYTHON:-$root/.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A fresh copy of the tracked and new (not ignored) files: no stale build/ output gets in.
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tmp/src"
if ! "$py" -m pip install -q --no-deps --no-build-isolation --target "$tmp/site" "$tmp/src" \
    >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    exit 1
fi
cd "$tmp/site"
"$py" -m mypy --config-file "$root/pyproject.toml" -p grm
