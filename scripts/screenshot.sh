#!/usr/bin/env bash
# Runs the real demo dashboard in tmux at 100x32, waits for the verdict and
# the end of the scenario, and captures the final screen as plain text into
# docs/screenshot.txt, and as docs/screenshot.png when ImageMagick's convert
# and the DejaVu Sans Mono font are installed (Debian: imagemagick,
# fonts-dejavu-core). Needs tmux. Rerun it after changing the dashboard.
#
#   scripts/screenshot.sh [extra demo flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v tmux >/dev/null || { echo "screenshot: tmux is not installed" >&2; exit 2; }
work=$(mktemp -d)
sock="tf-shot-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock" # kill-server leaves it
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/twofactory-tui" ./cmd/twofactory-tui
printf 'set -g status off\nset -g remain-on-exit on\n' >"$work/tmux.conf"
# Colours are on (the text capture drops them; the PNG is drawn from the
# text), so the panels get their rounded borders.
cmd="$(printf '%q' "$work/twofactory-tui")"
if [ $# -gt 0 ]; then cmd="$cmd $(printf '%q ' "$@")"; fi
tmux -L "$sock" -f "$work/tmux.conf" new-session -d -s shot -x 100 -y 32 \
  "$cmd; echo \$? >$work/exit"

# Wait (bounded) for the scenario to finish: the dashboard then says so.
for _ in $(seq 1 600); do
  if tmux -L "$sock" capture-pane -p -t shot | grep -q 'press q to exit'; then break; fi
  if [ -e "$work/exit" ]; then break; fi
  sleep 0.1
done
screen=$(tmux -L "$sock" capture-pane -p -t shot)
if ! grep -q 'VERDICT: ' <<<"$screen" || ! grep -q 'press q to exit' <<<"$screen"; then
  echo "screenshot: the demo did not reach its verdict; last screen:" >&2
  echo "$screen" >&2
  exit 1
fi
# Trailing blanks are cut so the text diffs cleanly.
sed -e 's/[[:space:]]*$//' <<<"$screen" >docs/screenshot.txt
tmux -L "$sock" send-keys -t shot q
for _ in $(seq 1 300); do [ -e "$work/exit" ] && break; sleep 0.1; done
echo "screenshot: wrote docs/screenshot.txt (demo exit code $(cat "$work/exit" 2>/dev/null))"

font=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf
if command -v convert >/dev/null && [ -e "$font" ]; then
  # The text goes inline: Debian's ImageMagick policy refuses text from @file.
  # -annotate expands % and \ escapes, so both are doubled.
  text=$(sed -e 's/\\/\\\\/g' -e 's/%/%%/g' docs/screenshot.txt)
  # 14 pt DejaVu Sans Mono: about 8.5 px a column and 17 px a line.
  convert -size 880x570 xc:'#1e1e1e' -font "$font" -pointsize 14 -fill '#d0d0d0' \
    -interline-spacing 0 -annotate +12+22 "$text" docs/screenshot.png
  echo "screenshot: wrote docs/screenshot.png"
else
  echo "screenshot: no convert or DejaVu Sans Mono; skipped docs/screenshot.png"
fi
