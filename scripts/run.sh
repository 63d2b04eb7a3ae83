#!/usr/bin/env bash
# Runs one command inside the project's environment, e.g. scripts/run.sh python -m training.posttrain --help
set -eo pipefail
# shellcheck disable=SC1091
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
exec "$@"
