#!/bin/sh
# Flow bifurcation on the veth testbed: one address, 198.18.0.2, on veth-srv.
# While kaon serves TCP port 80 on the user-space stack (xdp mode) under
# load, the kernel in kaon-srv answers ping and ARP and serves its own TCP
# echo on port 7000 under load too -- both content-checked. Fragmented UDP
# and TCP to kaon's ports reach kaon (the kernel in kaon-cli fragments them).
# After kaon exits, its XDP program is gone and port 80 reaches the kernel
# again. Then 1,000 outgoing connections from kaon on the shared address all
# complete: their replies come back to kaon's local port range, which the
# stack, the XDP program and the kernel's reservation share.
#
# usage: test_bifurcation.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_need_xdp
tb_init "network namespaces and AF_XDP" kaon-bif

tb_conf "$WORK/bif.conf" 1 1 net_af_xdp0,iface=veth-srv,start_queue=0 kaon-tb-bif 512
printf '[bifurcation]\nmode = xdp\ntcp_ports = 80\nudp_ports = 7007\n' >>"$WORK/bif.conf"

"$TB" down >/dev/null 2>&1
"$TB" up --srv-addr on || { echo "FAIL testbed up"; exit 1; }

# The kernel's own service on the shared address.
ip netns exec kaon-srv "$BIN/ref-epoll-echo" --addr 198.18.0.2 --port 7000 >"$WORK/kernel.log" 2>&1 &
TB_PIDS="$TB_PIDS $!"
# kaon on port 80, same interface, same address.
ip netns exec kaon-srv env KAON_STATS=1 KAON_XDP_PROG="$BIN/../bpf/kaon_xdp.o" \
	"$BIN/kaon-echo" --stack user --config "$WORK/bif.conf" --port 80 --udp-port 7007 \
	>"$WORK/kaon.log" 2>&1 &
KAON=$!
TB_PIDS="$TB_PIDS $KAON"
tb_wait_listening "$WORK/kaon.log" && ok "kaon started in xdp mode" || bad "kaon did not start: $(tail -5 "$WORK/kaon.log")"
ip netns exec kaon-srv ip link show veth-srv | grep -q "prog/xdp\|xdp" && ok "XDP program attached" ||
	bad "no XDP program on veth-srv"

# Both under load at once, content checked by kaon-bench.
tb_bench 80 --conns 8 --size 1024 --mode pingpong --duration 3 >"$WORK/b80.log" 2>&1 &
B80=$!
tb_bench 7000 --conns 8 --size 1024 --mode pingpong --duration 3 >"$WORK/b7000.log" 2>&1 &
B7000=$!
ip netns exec kaon-cli ping -c 3 -i 0.3 -W 2 198.18.0.2 >"$WORK/ping.log" 2>&1
PINGRC=$?
wait $B80 && ok "kaon's port 80 under load: intact" || bad "port 80: $(tail -3 "$WORK/b80.log")"
wait $B7000 && ok "kernel's port 7000 under load, same address: intact" ||
	bad "port 7000: $(tail -3 "$WORK/b7000.log")"
[ $PINGRC -eq 0 ] && ok "kernel answers ping meanwhile" || bad "ping: $(tail -2 "$WORK/ping.log")"
ip netns exec kaon-cli ip neigh show 198.18.0.2 | grep -q lladdr && ok "ARP by the kernel" || bad "ARP"
grep -q "errors    0 (mismatches 0)" "$WORK/b80.log" && grep -q "errors    0 (mismatches 0)" "$WORK/b7000.log" &&
	ok "zero errors and mismatches on both sides" || bad "errors reported"

# Fragments of kaon's datagrams: the first by its ports, the others by IP ID.
frag() { ip netns exec kaon-cli python3 "$SRC/tests/testbed/frag_client.py" "$@"; }
frag udp 198.18.0.2 7007 100 >"$WORK/u100.log" 2>&1 && grep -q "echo intact" "$WORK/u100.log" &&
	ok "kaon's UDP echo on the shared address" || bad "UDP echo: $(cat "$WORK/u100.log")"
# 3000 bytes: three fragments on a 1500-byte MTU. kaon may not send a
# datagram that large back (the stack does not fragment): counted below.
frag udp 198.18.0.2 7007 3000 >"$WORK/u3000.log" 2>&1 &&
	ok "fragmented UDP to kaon sent ($(tr '\n' ' ' <"$WORK/u3000.log"))" ||
	bad "fragmented UDP: $(cat "$WORK/u3000.log")"
# TCP: the client's device MTU 1000 under a route MTU of 1500, and no DF
# (IP_PMTUDISC_PROBE): the kernel cuts each 1500-byte segment in two. The
# advertised MSS of 900 keeps kaon's answers under 1000 bytes.
ip netns exec kaon-cli ip link set veth-cli mtu 1000
ip netns exec kaon-cli ip route replace 198.18.0.2 dev veth-cli mtu 1500 advmss 900
frag tcp 198.18.0.2 80 30000 >"$WORK/t.log" 2>&1 &&
	ok "fragmented TCP to kaon's port 80 echoed intact ($(tail -1 "$WORK/t.log"))" ||
	bad "fragmented TCP: $(cat "$WORK/t.log")"
ip netns exec kaon-cli ip route del 198.18.0.2 dev veth-cli
ip netns exec kaon-cli ip link set veth-cli mtu 1500
# An ICMP error about kaon's flow: a datagram from a socket closed at once,
# so kaon's echo finds the port closed and kaon-cli's kernel answers it
# with port unreachable, quoting kaon's port 7007. Counted below.
ip netns exec kaon-cli python3 -c "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'0123456789', ('198.18.0.2', 7007))
s.close()"
sleep 0.3

# Hand-back: after kaon exits, nothing attached and port 80 is the kernel's.
kill -INT $KAON
wait $KAON 2>/dev/null && ok "kaon exits cleanly" || bad "kaon exit status"
grep -q "udp: datagrams 3, bytes 3110," "$WORK/kaon.log" &&
	ok "every UDP datagram reached kaon, the fragmented one whole" ||
	bad "kaon's UDP counters: $(grep "udp:" "$WORK/kaon.log")"
# 2 + 2 x 15 fragments at least (30000 bytes in 1448-byte segments).
xfrag=$(sed -n 's/^kaon: xdp .*(fragments \([0-9]*\),.*/\1/p' "$WORK/kaon.log")
[ "${xfrag:-0}" -ge 32 ] && ok "the XDP program sent kaon $xfrag fragments" ||
	bad "XDP fragments to kaon: $(grep "kaon: xdp" "$WORK/kaon.log")"
xicmp=$(sed -n 's/^kaon: xdp .*icmp errors \([0-9]*\)).*/\1/p' "$WORK/kaon.log")
[ "${xicmp:-0}" -ge 1 ] && ok "the XDP program sent kaon $xicmp ICMP errors about its flows" ||
	bad "XDP ICMP errors to kaon: $(grep "kaon: xdp" "$WORK/kaon.log")"
reasm=$(sed -n 's/^kaon: ip_reassembled //p' "$WORK/kaon.log")
[ "${reasm:-0}" -ge 2 ] && ok "kaon reassembled $reasm datagrams" ||
	bad "kaon reassembled ${reasm:-no} datagrams"
ip netns exec kaon-srv ip link show veth-srv | grep -q "xdp" && bad "XDP program left attached" ||
	ok "XDP program detached on exit"
ip netns exec kaon-srv "$BIN/ref-epoll-echo" --addr 198.18.0.2 --port 80 >"$WORK/k80.log" 2>&1 &
TB_PIDS="$TB_PIDS $!"
sleep 0.5
tb_bench 80 --conns 1 --size 64 --mode pingpong --duration 1 >"$WORK/k80b.log" 2>&1 &&
	ok "port 80 reaches the kernel after kaon" || bad "port 80 after kaon: $(tail -3 "$WORK/k80b.log")"

# kaon's own outgoing connections from the shared address: kaon-bench on
# kaon's stack in kaon-srv to a kernel server in kaon-cli, 1,000 at once.
# Replies come to a port in kaon's local range; any port outside it would
# be the kernel's, which resets the connection. The next hop comes from the
# kernel's neighbour table, followed by its events (one dump, at start).
ip netns exec kaon-cli "$BIN/ref-epoll-echo" --addr 198.18.0.1 --port 7001 >/dev/null 2>&1 &
TB_PIDS="$TB_PIDS $!"
sleep 0.3
ip netns exec kaon-cli ip neigh flush dev veth-cli 2>/dev/null
ip netns exec kaon-srv ip neigh flush dev veth-srv 2>/dev/null
ip netns exec kaon-srv env KAON_STATS=1 KAON_XDP_PROG="$BIN/../bpf/kaon_xdp.o" "$BIN/kaon-bench" \
	--addr 198.18.0.1 --port 7001 --stack user --config "$WORK/bif.conf" --conns 1000 --size 256 \
	--mode pingpong --duration 1 >"$WORK/out.log" 2>&1 &&
	grep -q "errors    0 (mismatches 0)" "$WORK/out.log" &&
	ok "1000 outgoing connections from the shared address, all complete" ||
	bad "outgoing: $(grep -v "libbpf\|libxdp\|^kaon: " "$WORK/out.log" | head -12)"
grep -q "kaon: neigh dumps 1, " "$WORK/out.log" &&
	ok "next hop from the kernel's neighbour events ($(sed -n 's/^kaon: neigh //p' "$WORK/out.log"))" ||
	bad "neighbour cache: $(grep "neigh" "$WORK/out.log")"
ip netns exec kaon-cli ping -c 1 -W 2 198.18.0.2 >/dev/null && ok "kernel still answers ping after" ||
	bad "ping after outgoing test"

tb_done
