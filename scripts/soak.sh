#!/usr/bin/env bash
# soak.sh runs the headless demo N times in a row and reports how many
# passed, the median wall time and the slowest run. It is not part of
# `go test`: a full soak takes minutes.
#
#   scripts/soak.sh [-n N] [--load]
#
#   -n N             runs (default 20)
#   --load           keep both cores busy during the runs with two bounded
#                    busy loops (each stopped by `timeout` at the latest,
#                    and killed when the soak ends)
#
# A failed run's trace and run directory are kept (the path is printed);
# a passed run's are removed.
#
# The demo's own knobs come from the environment as usual (DEMO_JOB_SLEEP,
# DEMO_TIMEOUT, ...); DEMO_JOB_SLEEP defaults to 2, the issue's reference.
set -euo pipefail

runs=20
load=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n) runs="$2"; shift 2 ;;
	--load) load=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$runs" in
'' | 0 | *[!0-9]*) echo "soak.sh: -n wants a whole number above 0, not '$runs'" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
export DEMO_JOB_SLEEP="${DEMO_JOB_SLEEP:-2}"
work="$(mktemp -d -t twofactory-soak-XXXXXX)"
burners=()
failures=""

cleanup() {
	# Only the busy loops this script started, by pid.
	for pid in "${burners[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin="$work/twofactory-tui"
go build -o "$bin" ./cmd/twofactory-tui

if [ "$load" = 1 ]; then
	# Bounded: each loop ends by itself after a generous bound on the soak
	# (runs x 30 s), should this script be killed before its trap runs.
	bound=$((runs * 30))
	for _ in 1 2; do
		timeout "$bound" sh -c 'while :; do :; done' &
		burners+=("$!")
	done
fi

echo "soak: $runs runs, DEMO_JOB_SLEEP=$DEMO_JOB_SLEEP, load=$load, $(nproc) cores, $(go version)"
pass=0
times=()
for i in $(seq 1 "$runs"); do
	log="$work/run-$i.log"
	start=$(date +%s.%N)
	code=0
	"$bin" --headless --dir "$work/run-$i" >"$log" 2>&1 || code=$?
	end=$(date +%s.%N)
	secs=$(echo "$end - $start" | bc)
	times+=("$secs")
	if [ "$code" = 0 ] && grep -q '^VERDICT: PASS' "$log"; then
		pass=$((pass + 1))
		printf 'run %2d: PASS %6.2fs\n' "$i" "$secs"
		rm -rf "$work/run-$i"
	else
		printf 'run %2d: FAIL %6.2fs (exit %s)\n' "$i" "$secs" "$code"
		failures="${failures:-$(mktemp -d -t twofactory-soak-failures-XXXXXX)}"
		mv "$log" "$failures/run-$i.log"
		mv "$work/run-$i" "$failures/run-$i" 2>/dev/null || true
		echo "        trace and run directory kept in $failures/run-$i{.log,}"
	fi
done

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {
	if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }')
slowest=$(echo "$sorted" | tail -1)
fastest=$(echo "$sorted" | head -1)
printf 'soak: %d/%d passed; median %.2fs, fastest %.2fs, slowest %.2fs (load=%d)\n' \
	"$pass" "$runs" "$median" "$fastest" "$slowest" "$load"
[ "$pass" = "$runs" ]
