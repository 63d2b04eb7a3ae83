# Sourced by setup.sh, env.sh and `make clean`: maps ROS_DISTRO (default kilted) to its pinned requirements folder and
# to its own venv and colcon folders, so that the environments of several distributions live side by side.
JEPA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JEPA_DISTRO="${ROS_DISTRO:-kilted}"
JEPA_REQUIREMENTS="$JEPA_ROOT/requirements/$JEPA_DISTRO"
if [[ ! -f "$JEPA_REQUIREMENTS/ros.txt" ]]; then
  _jepa_have=("$JEPA_ROOT"/requirements/*/ros.txt)
  _jepa_have=("${_jepa_have[@]%/ros.txt}")
  echo "error: ROS_DISTRO=$JEPA_DISTRO has no pinned wheel set; use one of: ${_jepa_have[*]##*/} (unset means kilted)" >&2
  unset _jepa_have
  return 1
fi
# The default distribution keeps the plain names (.venv, ros2_ws/install); the others add -<distro>.
_jepa_suffix="$([[ "$JEPA_DISTRO" == kilted ]] || echo "-$JEPA_DISTRO")"
JEPA_VENV="$JEPA_ROOT/.venv$_jepa_suffix"
JEPA_WS="$JEPA_ROOT/ros2_ws"
JEPA_BUILD_BASE="$JEPA_WS/build$_jepa_suffix"
JEPA_INSTALL_BASE="$JEPA_WS/install$_jepa_suffix"
JEPA_LOG_BASE="$JEPA_WS/log$_jepa_suffix"
JEPA_BUILD_LOG="$JEPA_WS/build$_jepa_suffix.log"
JEPA_BUILD_STAMP="$JEPA_WS/.build$_jepa_suffix.sha256"
JEPA_SETUP_LOCK="$JEPA_ROOT/.setup$_jepa_suffix.lock"
unset _jepa_suffix
