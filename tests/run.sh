#!/usr/bin/env bash
# The README's test command: the suite without the slow-marked matrix (full-size models, long or two-replica
# runs), on two workers, one per core. conftest.py groups the tests so that each file, and each costly shared
# fixture with all the files that use it, stays on one worker.
# `bash tests/run.sh -m slow` runs the slow set (CI runs both); the later -m wins.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup --durations=25 --timeout 3600 -m "not slow" tests "$@"
