#!/usr/bin/env bash
# The test suite on the best adapter found (lavapipe in CI). Extra args go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
"$PY" -m wgtorch info
cd "$ROOT"
exec "$PY" -m pytest tests "$@"
