#!/usr/bin/env bash
# Set up a virtual environment in .venv with everything pokembed, its tests and the Space need.
# torch is installed first from the pinned CPU build, so no range later pulls GBs of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e ".[space,test]"
echo "pokembed is installed in .venv"
