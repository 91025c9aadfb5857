#!/usr/bin/env bash
# The main job (README): compile and simulate the bundled example on the default board.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
out=${1:-out/demo}
.venv/bin/neurocompile compile synfire --board spinn-5 -o "$out/compiled" --seed 1
.venv/bin/neurocompile simulate synfire --board spinn-5 --steps 200 -o "$out/sim" --seed 1
.venv/bin/neurocompile report "$out/compiled"
