#!/bin/sh
# The one-machine testbed (see the README): two network namespaces
# joined by a veth pair, addresses from 198.18.0.0/24 (the benchmarking
# range). Server side: namespace kaon-srv, veth-srv, 198.18.0.2. Client
# side: namespace kaon-cli, veth-cli, 198.18.0.1.
#
#   testbed.sh up [--netem "loss 1% ..."] [--hugepages N] [--srv-addr on|off]
#                 [--wire "delay=20ms loss=1% rate=500mbit"] [--queues N]
#   testbed.sh addr on|off     give veth-srv the kernel address 198.18.0.2, or take it
#   testbed.sh netem "..."|off change the client side's netem
#   testbed.sh wire "SPEC"     restart the wire with another spec (after up --wire)
#   testbed.sh wire stats      what the wire did so far (JSON)
#   testbed.sh down            remove everything, stale XDP programs and DPDK files too
#   testbed.sh status
#
# With --wire, an impairment wire sits between the two: namespace kaon-wire
# holds kw-cli (veth-cli's peer) and kw-srv (veth-srv's peer), and
# build/bin/kaon-wire (or $KAON_WIRE) forwards frames between them with the
# delay, loss, reordering, rate limit... of SPEC (bench/wire_imp.h has the
# keys). Names and addresses of both ends stay as they were, so everything
# that runs on the plain testbed runs through the wire too. This kernel has
# no netem: the wire is the way to a delayed, lossy path. `up` without
# --wire takes the wire out again; `down` removes it.
#
# veth-srv carries no kernel address by default: kaon's user-space stack owns
# it then, and two ARP answers for one address would confuse the client.
# Kernel back ends need it: `addr on`. Idempotent; needs root.
set -eu

SRV=kaon-srv CLI=kaon-cli
SIF=veth-srv CIF=veth-cli
SADDR=198.18.0.2 CADDR=198.18.0.1 PLEN=24
WIRE=kaon-wire WCIF=kw-cli WSIF=kw-srv
WRUN=/run/kaon-wire # .pid, .json (its counters), .log

die() { echo "testbed: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null || die "ip (iproute2) not found: run scripts/deps.sh"

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }
in_wire() { ip netns exec "$WIRE" "$@"; }
wire_bin() {
	if [ -n "${KAON_WIRE:-}" ]; then
		echo "$KAON_WIRE"
	else
		echo "$(cd "$(dirname "$0")/.." && pwd)/build/bin/kaon-wire"
	fi
}

# Every process in the wire's namespace is a forwarder this script started.
stop_wire() {
	ns_exists "$WIRE" || return 0
	pids=$(ip netns pids "$WIRE" 2>/dev/null || true)
	[ -n "$pids" ] || { rm -f "$WRUN.pid"; return 0; }
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
	for _ in $(seq 1 30); do
		[ -n "$(ip netns pids "$WIRE" 2>/dev/null || true)" ] || break
		sleep 0.1
	done
	for pid in $(ip netns pids "$WIRE" 2>/dev/null || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -f "$WRUN.pid"
}

wire_links_ok() {
	ns_exists "$WIRE" &&
		in_wire ip link show "$WCIF" >/dev/null 2>&1 &&
		in_wire ip link show "$WSIF" >/dev/null 2>&1 &&
		in_srv ip link show "$SIF" >/dev/null 2>&1 &&
		in_cli ip link show "$CIF" >/dev/null 2>&1
}

# Without a wire: deleting its namespace deletes kw-*, and their peers with
# them; the plain pair is made again by up.
remove_wire() {
	stop_wire
	if ns_exists "$WIRE"; then
		ip netns del "$WIRE"
		# veth ends go with their peers, a moment later.
		for _ in $(seq 1 20); do
			in_cli ip link show "$CIF" >/dev/null 2>&1 ||
				in_srv ip link show "$SIF" >/dev/null 2>&1 || break
			sleep 0.1
		done
	fi
}

make_wire_links() {
	stop_wire
	ns_exists "$WIRE" && ip netns del "$WIRE"
	in_srv ip link del "$SIF" 2>/dev/null || true
	in_cli ip link del "$CIF" 2>/dev/null || true
	ip link del "$SIF" 2>/dev/null || true
	ip link del "$CIF" 2>/dev/null || true
	ip netns add "$WIRE"
	# Made inside their namespaces: no name is ever taken in the root one.
	ip link add "$CIF" netns "$CLI" type veth peer name "$WCIF" netns "$WIRE"
	ip link add "$SIF" netns "$SRV" type veth peer name "$WSIF" netns "$WIRE"
}

# The wire's side: up, no addresses (IPv6 off, so the kernel there sends
# nothing of its own), no offloads that would hand the forwarder frames
# larger than the MTU.
setup_wire_side() {
	in_wire ip link set lo up
	for ifc in "$WCIF" "$WSIF"; do
		in_wire sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
		in_wire ip link set "$ifc" up
		if command -v ethtool >/dev/null; then
			in_wire ethtool -K "$ifc" tx off tso off gso off gro off >/dev/null 2>&1 || true
		fi
	done
	if command -v ethtool >/dev/null; then
		in_cli ethtool -K "$CIF" tso off gso off >/dev/null 2>&1 || true
		in_srv ethtool -K "$SIF" tso off gso off >/dev/null 2>&1 || true
	fi
}

start_wire() {
	spec=$1
	bin=$(wire_bin)
	[ -x "$bin" ] || die "kaon-wire not found at $bin: build it (or set KAON_WIRE)"
	wire_links_ok || die "no wire in the path: testbed.sh up --wire SPEC first"
	# A bad spec leaves the running wire alone.
	"$bin" --check --spec "$spec" || die "bad wire spec '$spec'"
	stop_wire
	rm -f "$WRUN.pid" "$WRUN.json"
	# setsid and its own log: the forwarder outlives this script and must
	# not hold the caller's pipes open.
	# Started directly (no shell function, so no subshell waits for it);
	# kaon-wire closes every inherited descriptor, the caller's hold on
	# the testbed lock included.
	ip netns exec "$WIRE" setsid "$bin" --a "$WCIF" --b "$WSIF" --spec "$spec" \
		--stats "$WRUN.json" --pidfile "$WRUN.pid" </dev/null >"$WRUN.log" 2>&1 &
	for _ in $(seq 1 50); do
		[ -s "$WRUN.pid" ] && return 0
		[ -n "$(ip netns pids "$WIRE" 2>/dev/null || true)" ] || break
		sleep 0.1
	done
	sleep 0.1
	[ -s "$WRUN.pid" ] && return 0
	cat "$WRUN.log" >&2 2>/dev/null || true
	stop_wire
	die "kaon-wire did not start (spec '$spec')"
}

wire_cmd() {
	case "$1" in
	stats)
		[ -s "$WRUN.pid" ] || die "no wire running"
		kill -USR1 "$(cat "$WRUN.pid")" 2>/dev/null || die "no wire running"
		sleep 0.3
		cat "$WRUN.json"
		;;
	*) start_wire "$1" ;;
	esac
}

set_addr() {
	case "$1" in
	on)
		in_srv ip addr replace "$SADDR/$PLEN" dev "$SIF"
		;;
	off)
		in_srv ip addr flush dev "$SIF" scope global 2>/dev/null || true
		# Forget what the client learnt about the old owner of the address.
		in_cli ip neigh flush dev "$CIF" 2>/dev/null || true
		;;
	*) die "addr takes on or off" ;;
	esac
}

set_netem() {
	if [ "$1" = off ]; then
		in_cli tc qdisc del dev "$CIF" root 2>/dev/null || true
	else
		# shellcheck disable=SC2086
		in_cli tc qdisc replace dev "$CIF" root netem $1 ||
			die "tc netem '$1' refused (is the sch_netem module available?)"
	fi
}

detach_xdp() {
	if ns_exists "$SRV" && in_srv ip link show "$SIF" >/dev/null 2>&1; then
		in_srv ip link set dev "$SIF" xdpgeneric off 2>/dev/null || true
		in_srv ip link set dev "$SIF" xdpdrv off 2>/dev/null || true
		in_srv ip link set dev "$SIF" xdp off 2>/dev/null || true
	fi
}

up() {
	netem="" huge=0 srv_addr=off wire="" queues=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--queues) [ $# -ge 2 ] || die "--queues needs a number"; queues=$2; shift 2 ;;
		--wire) [ $# -ge 2 ] || die "--wire needs a spec"; wire=$2; shift 2 ;;
		--netem) [ $# -ge 2 ] || die "--netem needs an argument"; netem=$2; shift 2 ;;
		--hugepages) [ $# -ge 2 ] || die "--hugepages needs a number"; huge=$2; shift 2 ;;
		--srv-addr) [ $# -ge 2 ] || die "--srv-addr needs on or off"; srv_addr=$2; shift 2 ;;
		*) die "unknown option for up: $1" ;;
		esac
	done
	ns_exists "$SRV" || ip netns add "$SRV"
	ns_exists "$CLI" || ip netns add "$CLI"
	if [ -n "$wire" ]; then
		wire_links_ok || make_wire_links
		setup_wire_side
	else
		remove_wire
	fi
	# --queues N: a veth pair with N rx and tx queues each (kaon with N
	# cores on one port); a pair with another count is made again.
	if [ -z "$wire" ] && in_srv ip link show "$SIF" >/dev/null 2>&1 &&
	   [ "$(in_srv sh -c "ls -d /sys/class/net/$SIF/queues/rx-*" 2>/dev/null | wc -l)" -ne "$queues" ]; then
		in_srv ip link del "$SIF" 2>/dev/null || true
	fi
	if [ -z "$wire" ] && { ! in_srv ip link show "$SIF" >/dev/null 2>&1 ||
	   ! in_cli ip link show "$CIF" >/dev/null 2>&1; }; then
		# A half-made pair (from an interrupted run) is removed first.
		in_srv ip link del "$SIF" 2>/dev/null || true
		in_cli ip link del "$CIF" 2>/dev/null || true
		ip link del "$SIF" 2>/dev/null || true
		ip link add "$SIF" numtxqueues "$queues" numrxqueues "$queues" type veth \
			peer name "$CIF" numtxqueues "$queues" numrxqueues "$queues"
		ip link set "$SIF" netns "$SRV"
		ip link set "$CIF" netns "$CLI"
	fi
	in_srv ip link set lo up
	in_cli ip link set lo up
	in_srv ip link set "$SIF" up
	in_cli ip link set "$CIF" up
	in_cli ip addr replace "$CADDR/$PLEN" dev "$CIF"
	# veth sends TCP with checksum offload (CHECKSUM_PARTIAL): frames seen
	# through AF_XDP would carry unfinished checksums. Off on both ends, for
	# every back end alike.
	if command -v ethtool >/dev/null; then
		in_cli ethtool -K "$CIF" tx off >/dev/null 2>&1 || true
		in_srv ethtool -K "$SIF" tx off >/dev/null 2>&1 || true
	fi
	set_addr "$srv_addr"
	if [ -n "$netem" ]; then set_netem "$netem"; fi
	if [ -n "$wire" ]; then start_wire "$wire"; fi
	if [ "$huge" -gt 0 ]; then
		echo "$huge" >/proc/sys/vm/nr_hugepages
		mkdir -p /dev/hugepages
		mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
	fi
}

down() {
	detach_xdp
	stop_wire
	ns_exists "$WIRE" && ip netns del "$WIRE"
	ns_exists "$SRV" && ip netns del "$SRV"
	ns_exists "$CLI" && ip netns del "$CLI"
	ip link del "$SIF" 2>/dev/null || true
	# Runtime files of DPDK processes that were killed hard: only the
	# prefixes of the testbed's own users (they run under the testbed
	# lock), not kaon-* at large, which tests off the testbed (memif pairs,
	# telemetry) use at the same time.
	for d in /var/run/dpdk/kaon-testbed* /var/run/dpdk/kaon-tb-* \
		 /var/run/dpdk/kaon-ovl-* /var/run/dpdk/kaon-bench-* /var/run/dpdk/kaon-wan-*; do
		[ -e "$d" ] && rm -rf "$d"
	done
	return 0
}

status() {
	for ns in "$SRV" "$CLI" "$WIRE"; do
		if ns_exists "$ns"; then
			echo "$ns:"
			ip netns exec "$ns" ip -br addr | sed 's/^/  /'
		else
			echo "$ns: absent"
		fi
	done
	if [ -s "$WRUN.pid" ]; then
		echo "wire: kaon-wire pid $(cat "$WRUN.pid"): $(head -1 "$WRUN.log" 2>/dev/null)"
	fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
up) up "$@" ;;
down) down ;;
addr) [ $# -eq 1 ] || die "usage: testbed.sh addr on|off"; set_addr "$1" ;;
netem) [ $# -eq 1 ] || die "usage: testbed.sh netem \"SPEC\"|off"; set_netem "$1" ;;
wire) [ $# -eq 1 ] || die "usage: testbed.sh wire \"SPEC\"|stats"; wire_cmd "$1" ;;
status) status ;;
*) echo "usage: testbed.sh up|down|addr on|off|netem SPEC|wire SPEC|stats|status" >&2; exit 2 ;;
esac
