# SPDX-License-Identifier: MIT
# What the testbed scripts share; sourced once SRC and BIN are set.
# tb_init WHAT NAME: skip (exit 77) without root, saying what root is for;
# make $WORK (/tmp/NAME.XXXXXX); on exit kill $SERVER_PID and every pid in
# $TB_PIDS, take the testbed down and remove $WORK. ok/bad count the checks
# (bad also shows the tail of $TB_LOG, when a script names its server's
# log there); tb_done prints the tally and is the script's status.
TB="$SRC/scripts/testbed.sh"
SERVER_PID=
TB_PIDS=
TB_LOG=
passed=0 failed=0

tb_cleanup() {
	[ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
	for p in $TB_PIDS; do kill -9 "$p" 2>/dev/null; done
	"$TB" down >/dev/null 2>&1
	rm -rf "$WORK"
}

tb_init() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root for $1"
		exit 77
	fi
	WORK=$(mktemp -d "/tmp/$2.XXXXXX")
	trap tb_cleanup EXIT
}

# tb_need_xdp: skip (exit 77) when kaon's XDP program was not built.
tb_need_xdp() {
	if [ ! -f "$BIN/../bpf/kaon_xdp.o" ]; then
		echo "SKIP: kaon's XDP program was not built (clang -target bpf missing)"
		exit 77
	fi
}

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
	if [ -n "$TB_LOG" ] && [ -f "$TB_LOG" ]; then
		grep -v "libbpf\|libxdp" "$TB_LOG" | sed 's/^/     log: /' | tail -20
	fi
}

# tb_conf FILE LCORES CORES VDEV PREFIX MEMORY: a kaon config for the
# server on veth-srv (198.18.0.2/24, a short TIME_WAIT so that runs do not
# hold ports long); a script appends its own sections.
tb_conf() {
	cat >"$1" <<CONF
[dpdk]
lcores = $2
cores = $3
vdev = $4
file_prefix = $5
memory = $6
no_huge = 1
log_level = 4
[port0]
addr = 198.18.0.2
netmask = /24
[tcp]
time_wait = 100
CONF
}

# tb_wait_listening LOG: wait up to 10 s for the server ($SERVER_PID) to
# say "listening on" in LOG, giving up early if it died; status: it did.
tb_wait_listening() {
	for _ in $(seq 1 100); do
		grep -q "listening on" "$1" && return 0
		[ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "listening on" "$1"
}

# tb_bench PORT ARGS...: kaon-bench (kernel epoll) from the client namespace
# against the server's 198.18.0.2:PORT.
tb_bench() {
	port=$1
	shift
	ip netns exec kaon-cli "$BIN/kaon-bench" --addr 198.18.0.2 --port "$port" --stack epoll "$@"
}

# tb_cores_accepted LOG N: with KAON_STATS each core prints its stack's
# counters at exit; check that N cores accepted connections.
tb_cores_accepted() {
	opens=$(grep "kaon: tcp_passive_opens" "$1" | awk '{print $3}')
	[ "$(echo "$opens" | grep -c '^[1-9]')" -eq "$2" ] && ok "$2 cores accepted ($(echo $opens))" ||
		bad "connections accepted per core: $(echo $opens)"
}

# tb_handoffs LOG: each core's hand-off counters, shown; prints the sum of
# the counter named by $2 (handoff_out, handoff_drop, ...) over the cores.
tb_handoffs() {
	grep "handoff_in" "$1" | sed 's/^kaon: port /     /' >&2
	n=$(grep "handoff_in" "$1" | sed "s/.*$2 \([0-9]*\).*/\1/" | paste -sd+ | bc)
	echo "${n:-0}"
}

tb_done() {
	echo "passed $passed, failed $failed"
	[ $failed -eq 0 ]
}
