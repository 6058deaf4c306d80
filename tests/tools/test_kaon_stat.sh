#!/bin/sh
# kaon-stat reads a running kaon's counters through DPDK telemetry: kaon-echo
# on kaon's stack over net_null (which hands it a frame stream no one else
# sees), read twice (the counters move while it runs), as text and as JSON;
# dpdk-telemetry.py too when it is installed.
#
#   test_kaon_stat.sh BIN_DIR
set -eu

BIN=$1
WORK=$(mktemp -d)
# Not kaon-*: scripts/testbed.sh clears /var/run/dpdk/kaon-* when another
# test takes the testbed down, telemetry socket and all.
PREFIX=stat-test-$$
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	# DPDK leaves its runtime directory behind (root's is in /var/run).
	run=/var/run
	[ "$(id -u)" -eq 0 ] || run=${XDG_RUNTIME_DIR:-/tmp}
	rm -rf "$WORK" "$run/dpdk/$PREFIX"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/echo.log" ] && cat "$WORK/echo.log" >&2; exit 1; }

cat >"$WORK/null.conf" <<EOF
[dpdk]
vdev = net_null0
no_huge = 1
memory = 128
file_prefix = $PREFIX
nb_mbufs = 8191
[port0]
addr = 198.18.99.2
EOF

# No kaon: a clear message, exit 1.
if "$BIN/kaon-stat" --file-prefix "$PREFIX" >"$WORK/none.out" 2>&1; then
	fail "kaon-stat succeeded with no kaon running"
fi
grep -q "cannot connect" "$WORK/none.out" || fail "no 'cannot connect' message: $(cat "$WORK/none.out")"

"$BIN/kaon-echo" --stack user --config "$WORK/null.conf" --port 7 >"$WORK/echo.log" 2>&1 &
pid=$!
i=0
until grep -q "listening" "$WORK/echo.log"; do
	kill -0 $pid 2>/dev/null || fail "kaon-echo exited"
	i=$((i + 1))
	[ $i -lt 400 ] || fail "kaon-echo did not start in 20 s"
	sleep 0.05
done

"$BIN/kaon-stat" --file-prefix "$PREFIX" >"$WORK/a.txt" || fail "kaon-stat failed"
# The second read waits (20 s at most) for kaon-echo's vcpu to have run in
# between: on a loaded machine two reads can both fall where it did not.
first=$(sed -n 's/^ *\([0-9]*\) eth_rx$/\1/p' "$WORK/a.txt")
i=0
while :; do
	"$BIN/kaon-stat" --file-prefix "$PREFIX" --json >"$WORK/b.json" || fail "kaon-stat --json failed"
	python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["/kaon/stats"]["eth_rx"] <= int(sys.argv[2]))' \
		"$WORK/b.json" "${first:-0}" && break
	i=$((i + 1))
	[ $i -lt 400 ] || break # the check below says what it saw
	sleep 0.05
done
cat "$WORK/a.txt"
for s in Stack: "TCP: 1 (estab 0, listen 1)" "TCP states:" Drops: Engine: Port: \
	"Port 0 (net_null0):" eth_rx passes ipackets; do
	grep -q "$s" "$WORK/a.txt" || fail "no '$s' in kaon-stat's output"
done
# The JSON parses, has every section, and shows counters moving between the
# two reads (net_null never stops delivering).
python3 - "$WORK/a.txt" "$WORK/b.json" <<'EOF' || fail "kaon-stat --json"
import json, re, sys
text = open(sys.argv[1]).read()
j = json.load(open(sys.argv[2]))
for k in ("/kaon/stats", "/kaon/tcp", "/kaon/drops", "/kaon/engine", "/kaon/port",
          "/kaon/port,0"):
    assert isinstance(j.get(k), dict), k
assert j["/kaon/tcp"]["listen"] == 1 and j["/kaon/tcp"]["tcbs"] == 1, j["/kaon/tcp"]
assert j["/kaon/port,0"]["name"] == "net_null0", j["/kaon/port,0"]
assert j["/kaon/port,0"]["ipackets"] > 0, j["/kaon/port,0"]
st = j["/kaon/stats"]
assert st["stacks"] == 1, st["stacks"]
first = int(re.search(r"(\d+) eth_rx", text).group(1))
assert st["eth_rx"] > first > 0, (first, st["eth_rx"])
assert sum(j["/kaon/drops"].values()) > 0
assert j["/kaon/engine"]["passes"] >= j["/kaon/engine"]["passes_with_frames"] > 0
print("json ok: eth_rx", first, "->", st["eth_rx"])
EOF

# DPDK's own client reads the same commands.
if command -v dpdk-telemetry.py >/dev/null; then
	echo /kaon/stats | dpdk-telemetry.py -f "$PREFIX" >"$WORK/dt.out" 2>&1 ||
		fail "dpdk-telemetry.py: $(cat "$WORK/dt.out")"
	grep -q '"eth_rx"' "$WORK/dt.out" || fail "dpdk-telemetry.py shows no eth_rx: $(cat "$WORK/dt.out")"
fi

kill -TERM $pid
wait $pid || fail "kaon-echo did not exit cleanly"
pid=
echo "PASS"
