#!/bin/sh
# dpdk-dumpcap captures a running kaon (rte_pdump_init, src/dev/capture.c):
# kaon-echo on kaon's stack behind a memif port, dumpcap attached to it as a
# DPDK secondary process, then kaon-bench on kaon's stack (the memif peer)
# runs a few connections; tshark reads the pcapng back and must find each
# connection's handshake (SYN, SYN-ACK, ACK) and echoed data both ways.
#
# A secondary process needs its primary on hugepages: the test reserves what
# is missing and gives it back (it runs under the testbed lock, as the other
# users of hugepages do), and mounts hugetlbfs in a mount namespace of its own
# when none is mounted.
#
#   test_capture.sh BIN_DIR
set -eu

BIN=$1
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (hugepages)"
command -v dpdk-dumpcap >/dev/null || skip "no dpdk-dumpcap (Debian package dpdk-dev)"
command -v tshark >/dev/null || skip "no tshark (Debian package tshark)"
[ -r /proc/sys/vm/nr_hugepages ] || skip "no hugepages in this kernel"

if ! grep -q hugetlbfs /proc/mounts && [ -z "${KAON_CAPTURE_NS:-}" ]; then
	command -v unshare >/dev/null || skip "no hugetlbfs mounted and no unshare"
	KAON_CAPTURE_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

WORK=$(mktemp -d /tmp/kaon-capture.XXXXXX)
PREFIX=kaon-capture-$$
PAGES=128 # 2 MiB each: kaon-echo's memory and dumpcap's ring and pool
added=0 echo_pid= cap_pid=
cleanup() {
	# (set -e: a process already gone must not end the clean-up)
	if [ -n "$cap_pid" ]; then kill -KILL "$cap_pid" 2>/dev/null || true; fi
	if [ -n "$echo_pid" ]; then kill -KILL "$echo_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	if [ "$added" -gt 0 ]; then
		now=$(cat /proc/sys/vm/nr_hugepages)
		echo $((now - added)) >/proc/sys/vm/nr_hugepages
	fi
	mountpoint -q "$WORK/huge" 2>/dev/null && umount "$WORK/huge"
	rm -rf "$WORK" "/var/run/dpdk/$PREFIX" "/var/run/dpdk/$PREFIX-cli"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in echo.log cap.log bench.log; do
		[ -f "$WORK/$f" ] && sed "s/^/  $f: /" "$WORK/$f" >&2
	done
	exit 1
}

if [ -n "${KAON_CAPTURE_NS:-}" ]; then
	mkdir "$WORK/huge"
	mount -t hugetlbfs -o pagesize=2M nodev "$WORK/huge" || skip "cannot mount hugetlbfs"
fi
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [ "$free" -lt $PAGES ]; then
	before=$(cat /proc/sys/vm/nr_hugepages)
	echo $((before + PAGES - free)) >/proc/sys/vm/nr_hugepages
	added=$(($(cat /proc/sys/vm/nr_hugepages) - before))
	free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
	[ "$free" -ge $PAGES ] || skip "only $free free 2 MiB hugepages, $PAGES needed"
fi

# lcores = 0,1: the vcpu thread takes the spare worker lcore 1, so DPDK's
# multi-process support (dumpcap's way in) stays on (src/sock/user_lcore.c).
. "$(dirname "$0")/memif_conf.sh"
memif_conf "$WORK/server.conf" server 198.18.0.2 "$PREFIX" "lcores = 0,1"
memif_conf "$WORK/client.conf" client 198.18.0.1 "$PREFIX-cli" "no_huge = 1"

# wait_for FILE TEXT PID WHAT: until FILE holds TEXT, while PID lives.
wait_for() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || fail "$4 exited"
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$4: no '$2' in 30 s"
		sleep 0.05
	done
}

"$BIN/kaon-echo" --stack user --config "$WORK/server.conf" --port 7 >"$WORK/echo.log" 2>&1 &
echo_pid=$!
wait_for "$WORK/echo.log" listening $echo_pid kaon-echo
grep -q "dpdk-dumpcap cannot attach\|capture unavailable" "$WORK/echo.log" &&
	fail "kaon-echo says capture is unavailable"

# -p: a memif port has no promiscuous mode to switch on. -f: only TCP. Until
# the client connects, the memif link is down and kaon offers its gratuitous
# ARP to the PMD on every pass; pdump copies frames as they are offered to
# tx_burst, sent or not, and those copies would fill dumpcap's ring.
# dumpcap prints "Packets captured" once the port's callbacks are on.
dpdk-dumpcap --file-prefix="$PREFIX" -i 0 -p -f "tcp port 7" -w "$WORK/cap.pcapng" \
	>"$WORK/cap.log" 2>&1 &
cap_pid=$!
wait_for "$WORK/cap.log" "Packets captured" $cap_pid dpdk-dumpcap

"$BIN/kaon-bench" --stack user --config "$WORK/client.conf" --addr 198.18.0.2 --port 7 \
	--conns 3 --size 100 --mode pingpong --requests 20 --timeout 60 \
	>"$WORK/bench.log" 2>&1 || fail "kaon-bench failed"

# Stop dumpcap once it has written at least what the run must have sent (3
# handshakes, 60 requests and 60 replies): its count goes up as it writes,
# and it takes frames from its ring in order, so the handshakes are in.
least=$((3 * 3 + 60 + 60))
i=0
until [ "$(tr -c '0-9' '\n' <"$WORK/cap.log" | grep . | tail -1)" -ge $least ]; do
	kill -0 $cap_pid 2>/dev/null || fail "dpdk-dumpcap exited"
	i=$((i + 1))
	[ $i -lt 600 ] || fail "dpdk-dumpcap wrote fewer than $least frames in 30 s"
	sleep 0.05
done
kill -INT $cap_pid
i=0
while kill -0 $cap_pid 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "dpdk-dumpcap did not stop in 30 s"
	sleep 0.05
done
wait $cap_pid || true
cap_pid=
[ -s "$WORK/cap.pcapng" ] || fail "no capture file"

count() { tshark -r "$WORK/cap.pcapng" -Y "$1" 2>/dev/null | wc -l; }
tshark -r "$WORK/cap.pcapng" 2>/dev/null | head -8
syn=$(count "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 7")
synack=$(count "tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.srcport == 7")
ack=$(count "tcp.flags.syn == 0 && tcp.flags.ack == 1 && tcp.dstport == 7 && tcp.seq == 1 && tcp.ack == 1")
req=$(count "tcp.dstport == 7 && tcp.len > 0")
rsp=$(count "tcp.srcport == 7 && tcp.len > 0")
echo "SYN $syn, SYN-ACK $synack, handshake ACK $ack, data to kaon $req, from kaon $rsp"
[ "$syn" -ge 3 ] && [ "$synack" -ge 3 ] && [ "$ack" -ge 3 ] || fail "handshakes missing"
[ "$req" -gt 0 ] && [ "$rsp" -gt 0 ] || fail "echoed data missing"
echo "PASS"
