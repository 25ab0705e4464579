#!/usr/bin/env bash
# The main job: train the example model on the best adapter found (args go to the script).
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
"$PY" -m wgtorch info
exec "$PY" "$ROOT/examples/train_digits.py" "$@"
