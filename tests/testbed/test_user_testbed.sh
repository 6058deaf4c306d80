#!/bin/sh
# kaon's user-space stack on the veth testbed, driven by the real Linux TCP
# stack from the other namespace: content-checked echo (64 B to 16 MiB),
# 1000 connections, ping (1,473 and 2,100 bytes too), retransmission under
# injected loss on af_xdp and af_packet, SIGTERM under load and SIGKILL
# followed by a clean restart, and a bad config refused with the interface
# untouched.
#
# usage: test_user_testbed.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_init "network namespaces and AF_XDP" kaon-tb
# A failure shows the end of the server's log.
bad() { failed=$((failed + 1)); echo "FAIL $*"; [ -f "$WORK/server.log" ] && sed 's/^/     server: /' "$WORK/server.log" | grep -v "libbpf\|libxdp" | tail -15; }

# A config for PMD $1 (af_xdp or af_packet).
make_conf() {
	case "$1" in
	af_xdp) vdev="net_af_xdp0,iface=veth-srv,start_queue=0" ;;
	af_packet) vdev="net_af_packet0,iface=veth-srv" ;;
	esac
	tb_conf "$WORK/$1.conf" 1 1 "$vdev" "kaon-tb-$1" 256
}

# start_server CONF [ENV...]: echo server on the user stack in kaon-srv.
start_server() {
	conf=$1
	shift
	ip netns exec kaon-srv env KAON_STATS=1 "$@" \
		"$BIN/kaon-echo" --stack user --config "$conf" --port 7 --cpu 1 >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 1 100); do
		grep -q "listening on" "$WORK/server.log" && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_server SIGNAL: stop it and wait; returns its exit status.
stop_server() {
	kill -"$1" "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	rc=$?
	SERVER_PID=
	return $rc
}

bench() {
	ip netns exec kaon-cli taskset -c 0 "$BIN/kaon-bench" --addr 198.18.0.2 --port 7 \
		--stack epoll "$@" >"$WORK/bench.log" 2>&1
}

# big_ping SIZE PATTERN: the kernel pings kaon with SIZE data bytes (above the
# MTU, so both ways fragmented); both replies back, content as sent.
big_ping() {
	ip netns exec kaon-cli ping -s "$1" -c 2 -W 2 -p "$2" 198.18.0.2 >"$WORK/ping.log" 2>&1 &&
		grep -q " 2 received" "$WORK/ping.log" &&
		! grep -Eq "wrong data|BAD CHECKSUM|DUP" "$WORK/ping.log"
}

"$TB" down >/dev/null 2>&1
"$TB" up || { echo "FAIL testbed up"; exit 1; }

for pmd in af_xdp af_packet; do
	make_conf $pmd
	if ! start_server "$WORK/$pmd.conf"; then
		bad "$pmd: server did not start"
		continue
	fi
	bench --conns 1 --size 64 --mode pingpong --duration 1 && ok "$pmd: pingpong 64 B" ||
		bad "$pmd: pingpong 64 B: $(tail -3 "$WORK/bench.log")"
	bench --conns 1 --size 16777216 --mode pingpong --duration 1 &&
		ok "$pmd: 16 MiB echoed intact" || bad "$pmd: 16 MiB: $(tail -3 "$WORK/bench.log")"
	bench --conns 4 --size 512 --mode stream --duration 1 && ok "$pmd: stream" ||
		bad "$pmd: stream: $(tail -3 "$WORK/bench.log")"
	ip netns exec kaon-cli ping -c 2 -W 2 198.18.0.2 >/dev/null && ok "$pmd: kernel pings kaon" ||
		bad "$pmd: ping"
	ip netns exec kaon-cli ip neigh show 198.18.0.2 | grep -q lladdr && ok "$pmd: ARP resolved" ||
		bad "$pmd: ARP"
	# Above the MTU: the replies come back fragmented, never as one frame
	# the port cannot send (one such frame used to stop all transmission).
	big_ping 1473 a5c3 && ok "$pmd: ping -s 1473 answered intact" ||
		bad "$pmd: ping -s 1473: $(tail -3 "$WORK/ping.log")"
	if [ $pmd = af_packet ]; then
		# The PMD's socket asks the kernel to reassemble (fanout with
		# PACKET_FANOUT_FLAG_DEFRAG), then cuts the 2,142-byte frame to
		# its 2 KB ring slot: kaon gets a truncated datagram and must
		# only drop it (checked by the pings that follow).
		big_ping 2100 5a3c; echo "note $pmd: ping -s 2100 is not deliverable through af_packet"
	else
		big_ping 2100 5a3c && ok "$pmd: ping -s 2100 answered intact" ||
			bad "$pmd: ping -s 2100: $(tail -3 "$WORK/ping.log")"
	fi
	ip netns exec kaon-cli ping -s 64 -c 2 -W 2 198.18.0.2 >/dev/null &&
		bench --conns 1 --size 64 --mode pingpong --duration 1 &&
		ok "$pmd: 64 B ping and echo after the big pings" ||
		bad "$pmd: after the big pings: $(tail -3 "$WORK/bench.log")"
	stop_server INT && ok "$pmd: clean exit on SIGINT" || bad "$pmd: exit status on SIGINT"
	grep -q "ip_fragmented [1-9]" "$WORK/server.log" &&
		! grep -Eq "tx_too_big [1-9]|drop (TX|IP)_TOO_BIG" "$WORK/server.log" &&
		ok "$pmd: replies fragmented, nothing too big" ||
		bad "$pmd: fragment/too-big counters: $(grep -E "fragment|too_big|TOO_BIG" "$WORK/server.log")"

	# Loss both ways (1%): retransmission on a real PMD, content checked.
	if start_server "$WORK/$pmd.conf" KAON_DEV_LOSS=10000,10000,3; then
		bench --conns 4 --size 262144 --mode pingpong --duration 3 &&
			ok "$pmd: 1% loss, content intact" || bad "$pmd: loss: $(tail -3 "$WORK/bench.log")"
		stop_server INT
		grep -Eq "tcp_(fast_)?rexmt [1-9]" "$WORK/server.log" && ok "$pmd: retransmitted" ||
			bad "$pmd: no retransmission counted"
	else
		bad "$pmd: server with loss did not start"
	fi
done

make_conf af_xdp
# 1000 connections at once.
start_server "$WORK/af_xdp.conf" && bench --conns 1000 --size 64 --mode pingpong --duration 2 &&
	ok "1000 connections" || bad "1000 connections: $(tail -3 "$WORK/bench.log")"
# SIGTERM under load, then the next start on the same interface works.
bench --conns 8 --size 64 --mode pingpong --duration 3 &
BPID=$!
sleep 1
stop_server TERM && ok "SIGTERM under load: exit 0" || bad "SIGTERM under load: exit status"
wait $BPID
start_server "$WORK/af_xdp.conf" && bench --conns 1 --size 64 --mode pingpong --duration 1 &&
	ok "restart after SIGTERM" || bad "restart after SIGTERM"
# SIGKILL leaves the XDP program and runtime files behind: the next start copes.
stop_server KILL
start_server "$WORK/af_xdp.conf" && bench --conns 1 --size 64 --mode pingpong --duration 1 &&
	ok "restart after SIGKILL" || bad "restart after SIGKILL"
stop_server INT

# User to user: kaon-bench on kaon's stack too, af_xdp on both veth ends.
start_server "$WORK/af_xdp.conf" &&
	ip netns exec kaon-cli "$BIN/kaon-bench" --addr 198.18.0.2 --port 7 --stack user \
		--config "$SRC/conf/testbed-client.conf" --conns 8 --size 4096 --mode pingpong \
		--duration 1 >"$WORK/bench.log" 2>&1 && ok "user to user over veth af_xdp" ||
	bad "user to user: $(tail -3 "$WORK/bench.log")"
stop_server INT

# kaon as the client of a kernel server in the other namespace.
"$TB" addr on
ip netns exec kaon-srv "$BIN/ref-epoll-echo" --addr 198.18.0.2 --port 7 >/dev/null 2>&1 &
KPID=$!
sleep 0.3
ip netns exec kaon-cli "$BIN/kaon-bench" --addr 198.18.0.2 --port 7 --stack user \
	--config "$SRC/conf/testbed-client.conf" --conns 4 --size 1048576 --mode pingpong \
	--duration 1 >"$WORK/bench.log" 2>&1 && ok "kaon's stack as client of a kernel server" ||
	bad "kaon as client: $(tail -3 "$WORK/bench.log")"
kill $KPID
wait $KPID 2>/dev/null
"$TB" addr off

# Two kaon processes over shared memory (memif), no network at all.
rm -f /run/kaon-memif.sock
env KAON_STATS=1 "$BIN/kaon-echo" --stack user --config "$SRC/conf/memif-server.conf" --port 7 \
	--cpu 1 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
"$BIN/kaon-bench" --addr 198.18.0.2 --port 7 --stack user --config "$SRC/conf/memif-client.conf" \
	--conns 16 --size 512 --mode pingpong --duration 1 >"$WORK/bench.log" 2>&1 &&
	ok "user to user over memif" || bad "memif: $(tail -3 "$WORK/bench.log")"
stop_server INT

# A bad config: one clear message, exit 2, interface untouched.
printf '[dpdk]\nvdev = net_af_xdp0,iface=veth-srv\n[port0]\naddr = 198.18.0.2\nmtu = 1\n' >"$WORK/bad.conf"
ip netns exec kaon-srv "$BIN/kaon-echo" --stack user --config "$WORK/bad.conf" --port 7 >"$WORK/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:5: \[port0\] mtu" "$WORK/bad.log" &&
	ok "bad config: exit 2 with file, line and key" || bad "bad config: rc $rc: $(cat "$WORK/bad.log")"
ip netns exec kaon-srv ip link show veth-srv | grep -q "xdp" &&
	bad "bad config: an XDP program was attached" || ok "bad config: interface untouched"

tb_done
