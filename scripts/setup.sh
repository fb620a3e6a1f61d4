#!/usr/bin/env bash
# Make .venv hold everything pokembed, its tests and the Space need; `make dataset` and `make test` run this first.
# It installs only when .venv is missing or pyproject.toml (or the torch pin below) changed since the last install,
# which the stamp file .venv/.pokembed-installed records; otherwise it returns at once.
#
# torch==2.13.0 is installed first, so the `torch>=2.4` range in pyproject.toml then installs nothing more. From the
# default index on Linux that is the CUDA build (it brings the nvidia-* packages: right for building on a GPU). For the
# CPU-only build set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu before the first install.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH="torch==2.13.0"
VENV=.venv
STAMP="$VENV/.pokembed-installed"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $TORCH"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
  exit 0
fi
if [[ -L "$VENV" ]]; then
  # A linked .venv is an environment shared with other checkouts: use it as it is, never install into it.
  echo "note: $VENV is a link to $(readlink "$VENV"); not installing into a shared environment" >&2
  exit 0
fi

echo "installing pokembed into $VENV ($TORCH first, then pokembed[space,test]) ..." >&2
start=$SECONDS
python3 -m venv "$VENV"
torch_index=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  torch_index=(--index-url "$TORCH_INDEX_URL")
fi
"$VENV/bin/pip" install -q "${torch_index[@]}" "$TORCH"
"$VENV/bin/pip" install -q -e ".[space,test]"
echo "$wanted" > "$STAMP"
echo "pokembed is installed in $VENV ($((SECONDS - start)) s)" >&2
