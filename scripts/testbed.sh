#!/bin/sh
# The one-machine testbed (see the README): two network namespaces
# joined by a veth pair, addresses from 198.18.0.0/24 (the benchmarking
# range). Server side: namespace kaon-srv, veth-srv, 198.18.0.2. Client
# side: namespace kaon-cli, veth-cli, 198.18.0.1.
#
#   testbed.sh up [--netem "loss 1% ..."] [--hugepages N] [--srv-addr on|off]
#   testbed.sh addr on|off     give veth-srv the kernel address 198.18.0.2, or take it
#   testbed.sh netem "..."|off change the client side's netem
#   testbed.sh down            remove everything, stale XDP programs and DPDK files too
#   testbed.sh status
#
# veth-srv carries no kernel address by default: kaon's user-space stack owns
# it then, and two ARP answers for one address would confuse the client.
# Kernel back ends need it: `addr on`. Idempotent; needs root.
set -eu

SRV=kaon-srv CLI=kaon-cli
SIF=veth-srv CIF=veth-cli
SADDR=198.18.0.2 CADDR=198.18.0.1 PLEN=24

die() { echo "testbed: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null || die "ip (iproute2) not found: run scripts/deps.sh"

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
in_srv() { ip netns exec "$SRV" "$@"; }
in_cli() { ip netns exec "$CLI" "$@"; }

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
	netem="" huge=0 srv_addr=off
	while [ $# -gt 0 ]; do
		case "$1" in
		--netem) [ $# -ge 2 ] || die "--netem needs an argument"; netem=$2; shift 2 ;;
		--hugepages) [ $# -ge 2 ] || die "--hugepages needs a number"; huge=$2; shift 2 ;;
		--srv-addr) [ $# -ge 2 ] || die "--srv-addr needs on or off"; srv_addr=$2; shift 2 ;;
		*) die "unknown option for up: $1" ;;
		esac
	done
	ns_exists "$SRV" || ip netns add "$SRV"
	ns_exists "$CLI" || ip netns add "$CLI"
	if ! in_srv ip link show "$SIF" >/dev/null 2>&1 ||
	   ! in_cli ip link show "$CIF" >/dev/null 2>&1; then
		# A half-made pair (from an interrupted run) is removed first.
		in_srv ip link del "$SIF" 2>/dev/null || true
		in_cli ip link del "$CIF" 2>/dev/null || true
		ip link del "$SIF" 2>/dev/null || true
		ip link add "$SIF" type veth peer name "$CIF"
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
	if [ "$huge" -gt 0 ]; then
		echo "$huge" >/proc/sys/vm/nr_hugepages
		mkdir -p /dev/hugepages
		mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
	fi
}

down() {
	detach_xdp
	ns_exists "$SRV" && ip netns del "$SRV"
	ns_exists "$CLI" && ip netns del "$CLI"
	ip link del "$SIF" 2>/dev/null || true
	# Runtime files of DPDK processes that were killed hard.
	rm -rf /var/run/dpdk/kaon-* 2>/dev/null || true
	return 0
}

status() {
	for ns in "$SRV" "$CLI"; do
		if ns_exists "$ns"; then
			echo "$ns:"
			ip netns exec "$ns" ip -br addr | sed 's/^/  /'
		else
			echo "$ns: absent"
		fi
	done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
up) up "$@" ;;
down) down ;;
addr) [ $# -eq 1 ] || die "usage: testbed.sh addr on|off"; set_addr "$1" ;;
netem) [ $# -eq 1 ] || die "usage: testbed.sh netem \"SPEC\"|off"; set_netem "$1" ;;
status) status ;;
*) echo "usage: testbed.sh up|down|addr on|off|netem SPEC|status" >&2; exit 2 ;;
esac
