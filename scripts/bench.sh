#!/bin/sh
# Reruns every figure of docs/performance.md on this machine: the bench
# command's burn-downs at 1,000 and 100,000 queued jobs (batch 1 and 32,
# 1, 4 and 16 clients), the Go benchmark of claim -> done cycles, and the
# start-up after a crash with a 1,000,000-event log. Each burn-down runs
# RUNS times (default 3); take the median. It stops by itself: every run is
# bounded by its job count, and the whole script by TIMEOUT (default 30m).
#
#   scripts/bench.sh            everything (about 15 minutes on 2 cores)
#   scripts/bench.sh quick      only the 1,000-job burn-downs and the Go benchmark
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-30m}
bin=$(mktemp -d)/twofactory-tui
go build -o "$bin" ./cmd/twofactory-tui

echo "# machine: $(nproc) cores, $(go version), $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2{print $2}') at ${TMPDIR:-/tmp}"
# The disk's own rate: 10,000 appends of 160 bytes, each synced (O_DSYNC).
probe=$(mktemp -d)
dd if=/dev/zero of="$probe/log" bs=160 count=10000 oflag=dsync,append conv=notrunc 2>&1 |
	awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") print "append+dsync: " int(10000 / $(i-1)) "/s"}'
rm -rf "$probe"

burn() { # jobs batch
	for run in $(seq "$RUNS"); do
		timeout "$TIMEOUT" "$bin" bench --jobs "$1" --batch "$2" --clients 1,4,16
	done
}
burn 1000 1
burn 1000 32
go test -run '^$' -bench ClaimDone -benchtime 20000x -count "$RUNS" ./internal/bench
[ "${1:-}" = quick ] && exit 0

burn 100000 32
RUNS=1 burn 100000 1
TWOFACTORY_STARTUP=1 go test -count=1 -timeout "$TIMEOUT" -run TestStartupAfterCrash -v \
	./internal/coord | grep -E 'events.log|Open from'
