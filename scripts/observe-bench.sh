#!/usr/bin/env bash
# observe-bench.sh: how fast `twofactory-tui observe` starts on a large
# events.log, and how much memory it takes. Not part of `go test ./...`.
#
#   scripts/observe-bench.sh [LINES]     (default 1000000)
#
# It builds the binary, generates a sound history of LINES lines (the
# generator is TestWriteLargeLog in internal/observe), then measures, each
# RUNS times (default 3; medians are what docs/observe.md reports):
#   1. --once --check --headless > /dev/null: time to fold the whole log
#      and peak RSS (/usr/bin/time -v);
#   2. --check --headless, following: time to the first line on stdout and
#      to the last one, then SIGTERM;
#   3. the dashboard in a private tmux server (if tmux is installed): time
#      to the first screen and until the last job shows done, then q.
# Everything runs on local files in a temp directory, removed at the end;
# every process it starts is stopped by its pid.
set -euo pipefail

lines=${1:-1000000}
runs=${RUNS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
sock="$tmp/tmux.sock" # a private server, its socket gone with $tmp
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

bin="$tmp/twofactory-tui"
(cd "$root" && go build -o "$bin" ./cmd/twofactory-tui)
mkdir -p "$tmp/data"
(cd "$root" && OBSERVE_LARGE_LOG="$tmp/data/events.log" OBSERVE_LARGE_LINES="$lines" \
	go test -count=1 -run '^TestWriteLargeLog$' ./internal/observe >/dev/null)
n=$(wc -l <"$tmp/data/events.log")
echo "log: $n lines, $(du -h "$tmp/data/events.log" | cut -f1); $(nproc) cores; $(go version)"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
rss() { awk -F': ' '/Maximum resident/ {printf "%.0f MiB", $2/1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall/ {print $2}' "$1"; }

for i in $(seq "$runs"); do
	/usr/bin/time -v -o "$tmp/t-once" "$bin" observe --dir "$tmp/data" --once --check \
		--headless >/dev/null 2>"$tmp/once.err"
	echo "once   run $i: $(tail -1 "$tmp/once.err" | sed 's/^observe: //'); wall $(wall \
		"$tmp/t-once"), peak RSS $(rss "$tmp/t-once")"
done

for i in $(seq "$runs"); do
	start=$(now)
	/usr/bin/time -v -o "$tmp/t-follow" sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/pid" \
		"$bin" observe --dir "$tmp/data" --check --headless 2>/dev/null | {
		head -n 1 >/dev/null
		t1=$(now)
		grep -m 1 -q "^#$n "
		t2=$(now)
		echo "$t1 $t2" >"$tmp/times"
		kill -TERM "$(cat "$tmp/pid")"
		cat >/dev/null
	}
	read -r t1 t2 <"$tmp/times"
	echo "follow run $i: first line $(ms "$start" "$t1") ms, last line $(ms "$start" "$t2") ms," \
		"peak RSS $(rss "$tmp/t-follow")"
done

if ! command -v tmux >/dev/null; then
	echo "dashboard: tmux not installed, skipped"
	exit 0
fi
for i in $(seq "$runs"); do
	start=$(now)
	tmux -S "$sock" new-session -d -x 160 -y 50 \
		"/usr/bin/time -v -o $tmp/t-dash $bin observe --dir $tmp/data --no-color; sleep 30"
	first="" last=""
	deadline=$(( $(now) + 120000000000 ))
	while [ -z "$last" ] && [ "$(now)" -lt "$deadline" ]; do
		screen=$(tmux -S "$sock" capture-pane -p 2>/dev/null || true)
		if [ -z "$first" ] && grep -q "observing" <<<"$screen"; then first=$(now); fi
		if grep -Eq "job-$(( n / 8 - 1 )) +done" <<<"$screen"; then last=$(now); fi
		sleep 0.02
	done
	tmux -S "$sock" send-keys q
	for _ in $(seq 250); do [ -s "$tmp/t-dash" ] && break; sleep 0.02; done
	tmux -S "$sock" kill-server 2>/dev/null || true
	echo "dash   run $i: first screen $(ms "$start" "${first:-$start}") ms, last job done on" \
		"screen $(ms "$start" "${last:-$start}") ms, peak RSS $(rss "$tmp/t-dash")"
	rm -f "$tmp/t-dash"
done
