#!/bin/sh
# Flow bifurcation with two kaon cores (issue 12, deliverable 5): veth-srv
# with two queues each way, one AF_XDP socket per queue in kaon's XDP
# program's xsks_map. DPDK 22.11's af_xdp PMD refuses queue_count=2 on a
# veth (it wants ETHTOOL_GCHANNELS to report two "combined" channels; a veth
# reports separate rx and tx ones), so kaon runs one af_xdp vdev per queue
# (start_queue=i, queue_count=1). The kernel picks the queue a flow arrives
# on by its own hash, so kaon steers the rest in software, counted.
# Checks: kaon's port 80 echoes content-checked over many connections,
# accepted on both cores, each core's socket receives; at the same time the
# kernel's own TCP echo on port 7000 (the "ssh" of the shared address) and
# ping stay with the kernel; on exit the program is gone.
#
# usage: test_bif_cores.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_need_xdp
tb_init "network namespaces and AF_XDP" kaon-tbbifcores
TB_LOG="$WORK/kaon.log"

tb_conf "$WORK/bif.conf" 0 2 net_af_xdp0,iface=veth-srv kaon-tb-bifcores 512
printf '[bifurcation]\nmode = xdp\ntcp_ports = 80\n' >>"$WORK/bif.conf"

"$TB" down >/dev/null 2>&1
"$TB" up --queues 2 --srv-addr on || { echo "FAIL testbed up"; exit 1; }

ip netns exec kaon-srv "$BIN/ref-epoll-echo" --addr 198.18.0.2 --port 7000 >"$WORK/kernel.log" 2>&1 &
TB_PIDS=$!
ip netns exec kaon-srv env KAON_STATS=1 KAON_XDP_PROG="$BIN/../bpf/kaon_xdp.o" \
	"$BIN/kaon-echo" --stack user --config "$WORK/bif.conf" --port 80 >"$WORK/kaon.log" 2>&1 &
SERVER_PID=$!
tb_wait_listening "$WORK/kaon.log" && ok "kaon on 2 cores started in xdp mode" || bad "kaon did not start"
ip netns exec kaon-srv ip link show veth-srv | grep -q "xdp" && ok "XDP program attached" ||
	bad "no XDP program on veth-srv"

tb_bench 80 --conns 400 --size 1-16384 --mode pingpong --requests 5 --timeout 90 \
	>"$WORK/b80.log" 2>&1 &
B80=$!
tb_bench 7000 --conns 8 --size 1024 --mode pingpong --duration 3 >"$WORK/b7000.log" 2>&1 &
B7000=$!
ip netns exec kaon-cli ping -c 3 -i 0.3 -W 2 198.18.0.2 >"$WORK/ping.log" 2>&1
PINGRC=$?
wait $B80 && grep -q "errors    0 (mismatches 0)" "$WORK/b80.log" &&
	ok "kaon's port 80: 400 connections content-checked" || bad "port 80: $(tail -3 "$WORK/b80.log")"
wait $B7000 && grep -q "errors    0 (mismatches 0)" "$WORK/b7000.log" &&
	ok "kernel's port 7000 on the same address, meanwhile: intact" ||
	bad "port 7000: $(tail -3 "$WORK/b7000.log")"
[ $PINGRC -eq 0 ] && ok "kernel answers ping meanwhile" || bad "ping: $(tail -2 "$WORK/ping.log")"

kill -INT "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null && ok "kaon exits cleanly" || bad "kaon exit status"
SERVER_PID=
# KAON_STATS: each core prints its own stack's and queue's counters.
tb_cores_accepted "$WORK/kaon.log" 2
rx=$(sed -n 's/^kaon: port rx \([0-9]*\) .*/\1/p' "$WORK/kaon.log")
[ "$(echo "$rx" | grep -c '^[1-9]')" -eq 2 ] && ok "both queues' sockets received ($(echo $rx))" ||
	bad "frames received per queue: $(echo $rx)"
tb_handoffs "$WORK/kaon.log" handoff_out >/dev/null
ip netns exec kaon-srv ip link show veth-srv | grep -q "xdp" && bad "XDP program left attached" ||
	ok "XDP program detached on exit"
tb_done
