#!/usr/bin/env bash
# Sourced by scripts/main.sh and scripts/test.sh: a virtualenv with wgtorch installed, and a
# WebGPU adapter (Mesa's software Vulkan driver via apt-get when wgpu finds none).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WGTORCH_VENV:-$ROOT/.venv}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/wgtorch-xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-$HOME/.cache/wgtorch}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; return 1; fi; }
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { echo "please install: $*" >&2; return 1; }
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" 2>/dev/null || { rm -rf "$VENV"; apt_install python3-venv; python3 -m venv "$VENV"; }
fi
PY="$VENV/bin/python"
stamp="$VENV/.wgtorch-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  "$PY" -m pip install -q --upgrade pip >/dev/null
  "$PY" -m pip install -q -e "$ROOT[test]"
  touch "$stamp"
fi
# NOTE: a machine may have Mesa's OpenGL driver and no Vulkan driver; wgpu then finds only the
# GL adapter, whose integer and cast semantics are the weakest. Prefer a Vulkan (or Metal/DX12)
# adapter: install lavapipe when wgpu finds none.
has_native="import wgpu, sys; sys.exit(0 if any(a.info['backend_type'] != 'OpenGL' for a in wgpu.gpu.enumerate_adapters_sync()) else 1)"
if ! "$PY" -c "$has_native" 2>/dev/null; then
  echo "wgtorch: no Vulkan/Metal/DX12 adapter found; installing Mesa's Vulkan driver (lavapipe)" >&2
  apt_install mesa-vulkan-drivers libvulkan1
fi
