#!/usr/bin/env bash
# Set up .venv if needed, then run the whole test suite (CPU only, loopback DDS only).
# Usage: tools/run-tests.sh [pytest arguments]
# Real frames and models are read from $TTM_ROS_DATA (default: ../shared/data beside the
# checkout); without them those tests skip, or fail when CI is set.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup-venv.sh"
cd "$root"
export TTM_ROS_DATA="${TTM_ROS_DATA:-$root/../shared/data}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$root/.test-logs}"
exec "$root/.venv/bin/python" -m pytest "$@"
