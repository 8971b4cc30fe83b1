#!/usr/bin/env bash
# Build the vision_msgs interfaces (tools/vision_msgs) into the pip environment, which
# has no vision_msgs wheel. Needs cmake and a C/C++ compiler (Debian: cmake g++) and the
# rosidl/ament wheels named in requirements/venv.txt. Users with a ROS install take
# ros-$ROS_DISTRO-vision-msgs from their distro instead.
# Safe to run again: it rebuilds only when the .msg files or CMakeLists.txt changed.
# Usage: tools/build-vision-msgs.sh [venv folder, default .venv]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${1:-${TTM_ROS_VENV:-$root/.venv}}"
python="$venv/bin/python"
source_dir="$root/tools/vision_msgs"
build_dir="$venv/build/vision_msgs"
stamp="$venv/.vision-msgs-installed"

wanted=$(cat "$source_dir"/package.xml "$source_dir"/CMakeLists.txt "$source_dir"/msg/*.msg | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]] && "$python" -c 'import vision_msgs.msg' 2>/dev/null; then
  echo "vision_msgs is up to date in $venv"
  exit 0
fi
for tool in cmake c++ cc; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found; install cmake and g++ (apt-get install cmake g++)" >&2; exit 1; }
done

# The message wheels export the include folders of the machine that built them
# (/opt/python/..., a numpy inside it) in share/*/cmake/*Export.cmake. Point them at
# this interpreter's include folder and numpy, or CMake rejects the missing paths.
"$python" - "$venv" <<'PY'
import glob, re, sys, sysconfig
import numpy
venv = sys.argv[1]
python_include = sysconfig.get_paths()['include']
numpy_include = numpy.get_include()
patterns = [(re.compile(r'[^";]*/include/python3\.\d+(?=[";])'), python_include),
            (re.compile(r'[^";]*/numpy/(?:_core|core)/include(?=[";])'), numpy_include)]
for path in glob.glob(f'{venv}/share/*/cmake/*Export.cmake'):
    with open(path, encoding='utf-8') as file:
        text = file.read()
    fixed = text
    for pattern, replacement in patterns:
        fixed = pattern.sub(lambda match: replacement, fixed)
    if fixed != text:
        with open(path, 'w', encoding='utf-8') as file:
            file.write(fixed)
PY

# rosidl's generators run with the venv's Python; the bootstrapper of the ROS wheels
# sets the library path of every Python start in the venv.
export PATH="$venv/bin:$PATH"
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
mkdir -p "$build_dir"
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$venv" -DCMAKE_INSTALL_PREFIX="$venv" \
  -DPython3_EXECUTABLE="$python" -DPython3_FIND_VIRTUALENV=ONLY \
  -DBUILD_TESTING=OFF >"$build_dir.log" 2>&1 || { cat "$build_dir.log" >&2; exit 1; }
cmake --build "$build_dir" --parallel "$(nproc)" >>"$build_dir.log" 2>&1 || { tail -50 "$build_dir.log" >&2; exit 1; }
cmake --install "$build_dir" >>"$build_dir.log" 2>&1 || { tail -50 "$build_dir.log" >&2; exit 1; }

"$python" -c 'from vision_msgs.msg import Detection2DArray, LabelInfo; Detection2DArray(); LabelInfo()'
echo "$wanted" >"$stamp"
echo "vision_msgs installed in $venv"
