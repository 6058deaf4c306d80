#!/bin/sh
# The raw L2 ceiling over memif serves one pinger after another, as
# bench/run's memif ceiling row needs (1, 64 then 256 frames in flight
# against one l2reflect): l2reflect stays up through RUNS l2ping-dpdk runs,
# each of which must get its frames back, and ends on SIGTERM having
# reflected frames. Before the bye (bench/l2ping_opts.h), the reflector
# polled on while each pinger closed, and DPDK 22.11's memif PMD, unmapping
# the link's rings under it, crashed it in rx_burst (1 pinger in 6 at 64 in
# flight; the next run of bench/run found no reflector).
#
# No root needed: memif runs on anonymous memory (no_huge). Every wait is
# for a state (bounded), never a fixed sleep.
#
#   test_l2_memif.sh BIN_DIR [RUNS]
set -eu

BIN=$1
RUNS=${2:-24}
skip() { echo "SKIP: $*"; exit 77; }
[ -x "$BIN/l2reflect" ] && [ -x "$BIN/l2ping-dpdk" ] || skip "no l2reflect / l2ping-dpdk (DPDK off)"

WORK=$(mktemp -d /tmp/kaon-l2memif.XXXXXX)
# Not kaon-*: scripts/testbed.sh clears /var/run/dpdk/kaon-*.
PREFIX=hl2m-$$
refl_pid=
. "$(dirname "$0")/memif_conf.sh"
# No command here may fail under set -e (a reflector that crashed is gone,
# and wait gives its status): the runtime directories must still go.
cleanup() {
	if [ -n "$refl_pid" ]; then kill -KILL "$refl_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$WORK"
	memif_rm_runtime "$PREFIX"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in refl.log ping.log; do
		[ -f "$WORK/$f" ] && grep -v '^EAL\|^TELEMETRY' "$WORK/$f" | sed "s/^/  $f: /" >&2
	done
	exit 1
}

memif_conf "$WORK/server.conf" server 198.18.0.2 "$PREFIX" "no_huge = 1" "log_level = 1"
memif_conf "$WORK/client.conf" client 198.18.0.1 "$PREFIX-cli" "no_huge = 1" "log_level = 1"

"$BIN/l2reflect" "$WORK/server.conf" >"$WORK/refl.log" 2>&1 &
refl_pid=$!
i=0
until grep -q "reflecting" "$WORK/refl.log"; do
	kill -0 "$refl_pid" 2>/dev/null || fail "l2reflect did not start"
	i=$((i + 1))
	[ $i -lt 300 ] || fail "l2reflect not up in 30 s"
	sleep 0.1
done

n=0
while [ $n -lt "$RUNS" ]; do
	case $((n % 3)) in 0) inflight=1 ;; 1) inflight=64 ;; *) inflight=256 ;; esac
	n=$((n + 1))
	kill -0 "$refl_pid" 2>/dev/null || fail "l2reflect died before pinger $n"
	rc=0
	timeout 60 "$BIN/l2ping-dpdk" "$WORK/client.conf" --inflight $inflight \
		--duration 0.2 --json >"$WORK/ping.log" 2>&1 || rc=$?
	[ $rc -eq 0 ] || fail "pinger $n ($inflight in flight) exited $rc"
	grep -q '"round_trips_per_sec": [1-9]' "$WORK/ping.log" ||
		fail "pinger $n ($inflight in flight): no round trips"
	grep -q "did not answer the bye" "$WORK/ping.log" &&
		fail "pinger $n: the reflector did not answer its bye"
done

kill -0 "$refl_pid" 2>/dev/null || fail "l2reflect died after the last pinger"
kill -TERM "$refl_pid"
rc=0
wait "$refl_pid" || rc=$?
refl_pid=
[ $rc -eq 0 ] || fail "l2reflect exited $rc on SIGTERM"
grep -q "l2reflect: [1-9][0-9]* frames reflected" "$WORK/refl.log" || fail "l2reflect's count"
echo "PASS: one l2reflect served $RUNS l2ping-dpdk runs over memif"
