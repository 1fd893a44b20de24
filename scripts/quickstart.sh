#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the main job on the embedded default data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/netspace study --preset quick --out runs/study "$@"
