#!/bin/sh
# Hostile traffic on the veth testbed (issue 10): tests/testbed/hostile.py in
# kaon-cli crafts option abuse, header lies, bad checksums, RFC 5961
# injections, PAWS games, zero windows, tiny-segment floods, fragment abuse,
# big pings, LAND, bad sources, ARP spoofing, challenge-ACK counting and a
# spoofed SYN flood; each case is checked on the wire and by kaon's named
# drop counters (read live from KAON_STATS_FILE) while the kernel's own TCP
# keeps passing a content-checked echo. Then the same probes against the
# Linux kernel (--ref), wire only, to show the probes are right. The kaon
# server must live through it all and exit cleanly.
#
# usage: test_hostile.sh SRCDIR BINDIR      (root; exit 77 = skipped)
#        HOSTILE_ONLY=SUBSTR runs only the cases whose name contains it.
set -u
SRC="$1" BIN="$2"
TB="$SRC/scripts/testbed.sh"
. "$SRC/tests/testbed/tb_lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root for network namespaces and AF_XDP"
	exit 77
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
WORK=$(mktemp -d /tmp/kaon-hostile.XXXXXX)
SERVER_PID=
failed=0

cleanup() {
	[ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
	"$TB" down >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

tb_conf "$WORK/af_xdp.conf" 1 1 net_af_xdp0,iface=veth-srv,start_queue=0 kaon-tb-hostile 256
# half-open connections from the spoofed SYN flood give up after 7 s, so
# the suite can check that nothing stays behind ([tcp] is the last section)
echo "syn_retries = 2" >>"$WORK/af_xdp.conf"

# wait_for LOG PID: the server says it listens, or gives up.
wait_for() {
	for _ in $(seq 1 100); do
		grep -q "listening on" "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

"$TB" down >/dev/null 2>&1
"$TB" up || { echo "FAIL testbed up"; exit 1; }

# --- kaon's user stack, counters rewritten every 0.1 s ---
ip netns exec kaon-srv env KAON_STATS=1 KAON_STATS_EVERY=0.1 KAON_STATS_FILE="$WORK/stats" \
	"$BIN/kaon-echo" --stack user --config "$WORK/af_xdp.conf" --port 7 --udp-port 7 --cpu 1 \
	>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
if ! wait_for "$WORK/server.log" $SERVER_PID; then
	echo "FAIL kaon: server did not start"
	sed 's/^/     server: /' "$WORK/server.log" | tail -15
	exit 1
fi
echo "== against kaon (af_xdp, user stack)"
ip netns exec kaon-cli taskset -c 0 "$PY" "$SRC/tests/testbed/hostile.py" --stats "$WORK/stats" \
	${HOSTILE_ONLY:+--only "$HOSTILE_ONLY"} ||
	failed=$((failed + 1))
if kill -0 "$SERVER_PID" 2>/dev/null; then
	kill -INT "$SERVER_PID"
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	if [ $rc -eq 0 ]; then
		echo "ok   kaon: alive after the suite, clean exit on SIGINT"
	else
		echo "FAIL kaon: exit status $rc on SIGINT"
		failed=$((failed + 1))
	fi
else
	echo "FAIL kaon: the server died during the suite"
	sed 's/^/     server: /' "$WORK/server.log" | grep -v "libbpf\|libxdp" | tail -20
	SERVER_PID=
	failed=$((failed + 1))
fi
grep -E "^kaon: (drop |tcp_syncookies|tcp_challenge|ip_frag_evictions)" "$WORK/server.log" |
	sed 's/^/     /'

# --- the Linux kernel in kaon-srv: the same probes, the wire only ---
"$TB" addr on
ip netns exec kaon-srv "$BIN/kaon-echo" --stack epoll --addr 198.18.0.2 --port 7 --udp-port 7 \
	--cpu 1 >"$WORK/ref.log" 2>&1 &
SERVER_PID=$!
if wait_for "$WORK/ref.log" $SERVER_PID; then
	echo "== against the Linux kernel (--ref)"
	ip netns exec kaon-cli taskset -c 0 "$PY" "$SRC/tests/testbed/hostile.py" --ref \
		${HOSTILE_ONLY:+--only "$HOSTILE_ONLY"} ||
		failed=$((failed + 1))
else
	echo "FAIL ref: kernel echo server did not start"
	cat "$WORK/ref.log"
	failed=$((failed + 1))
fi
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
"$TB" addr off

[ $failed -eq 0 ]
