# Source this file to enter the project's environment: .venv, the ROS 2 wheels and the built ros2_ws.
# Usage: source scripts/env.sh
_JEPA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$_JEPA_ROOT/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# shellcheck disable=SC1091
source "$_JEPA_ROOT/ros2_ws/install/setup.bash"
export PYTHONPATH="$_JEPA_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export MUJOCO_GL="${MUJOCO_GL:-egl}"
unset _JEPA_ROOT
