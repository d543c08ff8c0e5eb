#!/usr/bin/env bash
# Smoke test of the desktop build (Linux): build dist/hearth, then run the built program the
# way a user would, with no Python, no virtual environment and no repository on its paths.
#
#   1. `hearth ask` answers with the bundled starter model (through its own engine-host child)
#   2. `hearth transcribe` writes down a sentence spoken by espeak-ng (bundled whisper model)
#   3. the window opens (Qt offscreen), stays up, and quits cleanly on SIGTERM: exit code 0
#      and no engine-host child left behind
#
#   bash packaging/smoke_test.sh              # build, then test
#   bash packaging/smoke_test.sh --no-build   # test the existing dist/hearth
# Exit status 0 when every check passed; the first failed check is named on stderr.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APP="$ROOT/dist/hearth/hearth"
WORK="$(mktemp -d -t hearth-smoke-XXXXXX)"
GUI_PID=""
cleanup() {
  if [[ -n "$GUI_PID" ]] && kill -0 "$GUI_PID" 2>/dev/null; then kill -KILL "$GUI_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
step() { echo; echo "smoke: == $*"; }

if [[ "${1:-}" != "--no-build" ]]; then
  step "build"
  bash "$ROOT/packaging/build.sh" || fail "the build failed"
fi
[[ -x "$APP" ]] || fail "$APP does not exist; build first (bash packaging/build.sh)"

# A user's environment: no Python paths, no venv, a fresh data folder, no network for models.
# `env` execs the program, so a backgrounded "${USER_ENV[@]}" APP has the app's own pid in $!.
USER_ENV=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8
  HEARTH_HOME="$WORK/hearth-home" HF_HOME="$WORK/hf-home" HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
  QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR="$WORK/runtime")
run_app() { "${USER_ENV[@]}" "$@"; }
mkdir -p "$WORK/home" "$WORK/runtime" && chmod 700 "$WORK/runtime"
cd "$WORK" || fail "no work folder"

step "hearth ask (starter model, engine host as a child of the frozen app)"
start=$(date +%s%N)
run_app "$APP" ask "What is the capital of France? Answer in one word." --json --max-tokens 24 --temperature 0 \
  >"$WORK/ask.json" 2>"$WORK/ask.err"
code=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $code -eq 0 ]] || { cat "$WORK/ask.err" >&2; fail "hearth ask exited with $code"; }
ANSWER=$(python3 - "$WORK/ask.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
assert data["text"].strip(), "empty answer"
# the frozen app's sys.path holds only its own folder, so this starter model is the bundled one
assert data["model"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf"), data["model"]
print(f"{data['text'].strip()!r} ({data['completion_tokens']} tokens, {data['tokens_per_second']:.0f} tok/s, model {data['model']})")
EOF
) || fail "hearth ask did not answer with the bundled starter model: $(cat "$WORK/ask.json")"
echo "smoke: answer: $ANSWER"
echo "smoke: ask took ${elapsed_ms} ms (engine start included)"

step "hearth transcribe (espeak-ng speech, bundled whisper tiny.en)"
SENTENCE="Turn the music down and open the kitchen window."
KEY_WORDS="turn music down open kitchen window"
command -v espeak-ng >/dev/null || fail "espeak-ng is not installed (apt-get install espeak-ng)"
espeak-ng -v en-us -s 150 -w "$WORK/speech.wav" "$SENTENCE" || fail "espeak-ng could not write speech"
run_app "$APP" transcribe "$WORK/speech.wav" >"$WORK/transcript.txt" 2>"$WORK/transcribe.err"
code=$?
[[ $code -eq 0 ]] || { cat "$WORK/transcribe.err" >&2; fail "hearth transcribe exited with $code"; }
TRANSCRIPT=$(tr -d '\r' <"$WORK/transcript.txt")
echo "smoke: transcript: $TRANSCRIPT"
heard=0; total=0
for word in $KEY_WORDS; do
  total=$((total + 1)); grep -qiw "$word" <<<"$TRANSCRIPT" && heard=$((heard + 1))
done
echo "smoke: $heard of $total key words heard (said: $SENTENCE)"
(( heard * 6 >= total * 5 )) || fail "the transcript misses too many words: $TRANSCRIPT"  # tiny.en may slip once

step "hearth speak --out (the bundled espeak-ng library in the app's own speech worker), heard back"
run_app HEARTH_ESPEAK=library "$APP" speak "$SENTENCE" --out "$WORK/spoken.wav" 2>"$WORK/speak.err" \
  || { cat "$WORK/speak.err" >&2; fail "hearth speak --out failed"; }
run_app "$APP" transcribe "$WORK/spoken.wav" >"$WORK/spoken.txt" 2>"$WORK/spoken.err" \
  || { cat "$WORK/spoken.err" >&2; fail "hearth transcribe of hearth's own speech failed"; }
SPOKEN=$(tr -d '\r' <"$WORK/spoken.txt")
echo "smoke: hearth said and heard back: $SPOKEN"
heard=0
for word in $KEY_WORDS; do grep -qiw "$word" <<<"$SPOKEN" && heard=$((heard + 1)); done
(( heard * 6 >= total * 5 )) || fail "hearth's own speech was not understood: $SPOKEN"

step "the window (offscreen): starts, stays up, quits cleanly on SIGTERM"
"${USER_ENV[@]}" "$APP" >"$WORK/gui.out" 2>&1 &
GUI_PID=$!
children=""
for _ in $(seq 1 50); do  # up to ~10 s for the engine-host child to appear
  sleep 0.2
  kill -0 "$GUI_PID" 2>/dev/null || break
  children=$(pgrep -P "$GUI_PID" -f -- "--engine-host" | tr '\n' ' ')
  [[ -n "$children" ]] && break
done
sleep 5
kill -0 "$GUI_PID" 2>/dev/null || { cat "$WORK/gui.out" >&2; fail "the window exited by itself"; }
children=$(pgrep -P "$GUI_PID" -f -- "--engine-host" | tr '\n' ' ')
echo "smoke: window alive after start; engine-host child: ${children:-none}"
[[ -n "$children" ]] || { cat "$WORK/gui.out" >&2; fail "the window did not start its engine-host child"; }
kill -TERM "$GUI_PID"
code=""
for _ in $(seq 1 100); do  # up to 20 s to quit
  if ! kill -0 "$GUI_PID" 2>/dev/null; then wait "$GUI_PID"; code=$?; break; fi
  sleep 0.2
done
[[ -n "$code" ]] || { cat "$WORK/gui.out" >&2; fail "the window did not quit within 20 s of SIGTERM"; }
GUI_PID=""
[[ $code -eq 0 ]] || { cat "$WORK/gui.out" >&2; fail "the window exited with $code after SIGTERM"; }
sleep 0.5
for child in $children; do
  kill -0 "$child" 2>/dev/null && fail "engine-host child $child outlived the window"
done
echo "smoke: window exit code 0; no engine-host child left"
if grep -qiE "traceback|could not load the qt platform plugin|error while loading shared libraries|no QtMultimedia backends" "$WORK/gui.out"; then
  cat "$WORK/gui.out" >&2
  fail "the window's output shows an error"
fi
echo "smoke: window output ($(wc -l <"$WORK/gui.out") lines):"
sed 's/^/  | /' "$WORK/gui.out" | tail -15
LOG="$WORK/hearth-home/logs/engine-host.log"
[[ -f "$LOG" ]] && { echo "smoke: engine-host log tail:"; tail -3 "$LOG" | sed 's/^/  | /'; }

step "the window on a real X server (Xvfb, the bundled xcb plugin): mapped, with its icon"
if command -v Xvfb >/dev/null && command -v xwininfo >/dev/null && command -v xprop >/dev/null; then
  DISPLAY_NUMBER=$(( 90 + RANDOM % 400 ))
  Xvfb ":$DISPLAY_NUMBER" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
  XVFB_PID=$!
  sleep 1
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 DISPLAY=":$DISPLAY_NUMBER" \
    HEARTH_HOME="$WORK/hearth-home" HF_HOME="$WORK/hf-home" HF_HUB_OFFLINE=1 XDG_RUNTIME_DIR="$WORK/runtime" \
    "$APP" >"$WORK/gui-x.out" 2>&1 &
  GUI_PID=$!
  window=""
  for _ in $(seq 1 50); do
    sleep 0.2
    window=$(DISPLAY=":$DISPLAY_NUMBER" xwininfo -root -tree 2>/dev/null | grep -F '("hearth" "Hearth")' | awk '{print $1}' | head -n 1)
    [[ -n "$window" ]] && break
  done
  icon_bytes=0
  [[ -n "$window" ]] && icon_bytes=$(DISPLAY=":$DISPLAY_NUMBER" xprop -id "$window" _NET_WM_ICON 2>/dev/null | wc -c)
  kill -TERM "$GUI_PID" 2>/dev/null
  wait "$GUI_PID"; code=$?; GUI_PID=""
  kill "$XVFB_PID" 2>/dev/null; wait "$XVFB_PID" 2>/dev/null
  [[ -n "$window" ]] || { cat "$WORK/gui-x.out" >&2; fail "no Hearth window appeared on the X server"; }
  (( icon_bytes > 1000 )) || fail "the window has no icon (_NET_WM_ICON missing: SVG icon plugin not bundled?)"
  [[ $code -eq 0 ]] || { cat "$WORK/gui-x.out" >&2; fail "the X window exited with $code after SIGTERM"; }
  echo "smoke: window $window mapped with WM_CLASS hearth/Hearth and an icon; exit code 0"
else
  echo "smoke: skipped (Xvfb, xwininfo or xprop not installed)"
fi

echo
echo "smoke: PASSED (size $(du -sh "$ROOT/dist/hearth" | cut -f1))"
