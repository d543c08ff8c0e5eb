#!/usr/bin/env bash
# Build Hearth as a desktop application that runs without Python: dist/hearth/ (one folder;
# on macOS also dist/Hearth.app). Installs PyInstaller into .venv when it is missing, renders
# the icons when they are missing, and reports build time and size.
#
#   bash packaging/build.sh            # build (a clean build; takes a few minutes)
#   PYTHON=/path/to/python bash packaging/build.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python
  elif [[ -x .venv/Scripts/python.exe ]]; then PYTHON=.venv/Scripts/python.exe
  else echo "build: no .venv here; run scripts/bootstrap.sh app first (or set PYTHON)" >&2; exit 2
  fi
fi

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build: installing PyInstaller into the virtual environment"
  "$PYTHON" -m pip install --quiet "pyinstaller>=6.10" pyinstaller-hooks-contrib
fi
if ! "$PYTHON" -c "import llama_cpp, faster_whisper, PySide6" 2>/dev/null; then
  echo "build: Hearth's dependencies are not installed in $PYTHON; run scripts/bootstrap.sh app" >&2
  exit 2
fi
if [[ ! -f assets/icons/hearth-256.png || ! -f assets/icons/hearth.ico || ! -f assets/icons/hearth.icns ]]; then
  "$PYTHON" packaging/make_icons.py
fi

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$ROOT/dist" --workpath "$ROOT/build" packaging/hearth.spec
elapsed=$(( $(date +%s) - start ))

echo
echo "build: finished in ${elapsed} s -> dist/hearth"
echo "build: size $(du -sh dist/hearth | cut -f1) (dist/hearth); biggest parts:"
inside=dist/hearth/_internal
[[ -d "$inside" ]] || inside=dist/hearth
du -sh "$inside"/* 2>/dev/null | sort -rh | sed -n "1,12s/^/  /p"
if [[ -d dist/Hearth.app ]]; then
  echo "build: macOS bundle dist/Hearth.app $(du -sh dist/Hearth.app | cut -f1)"
fi
