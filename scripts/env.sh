# Source this file to enter the project's environment: the venv, the ROS 2 wheels and the built ros2_ws of the
# distribution that ROS_DISTRO names (kilted by default). Usage: [export ROS_DISTRO=jazzy;] source scripts/env.sh
# shellcheck source=scripts/distro.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/distro.sh" || return 1
if [[ ! -f "$JEPA_VENV/bin/activate" || ! -f "$JEPA_INSTALL_BASE/setup.bash" ]]; then
  echo "error: ROS 2 $JEPA_DISTRO is not set up in this checkout; run: ROS_DISTRO=$JEPA_DISTRO make setup" >&2
  return 1
fi
# shellcheck disable=SC1091
source "$JEPA_VENV/bin/activate"
export ROS_DISTRO="$JEPA_DISTRO"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# shellcheck disable=SC1091
source "$JEPA_INSTALL_BASE/setup.bash"
export PYTHONPATH="$JEPA_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export MUJOCO_GL="${MUJOCO_GL:-egl}"
