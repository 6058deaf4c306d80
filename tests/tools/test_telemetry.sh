#!/bin/sh
# DPDK's own telemetry client, dpdk-telemetry.py, reads a live kaon: kaon-echo
# on kaon's stack behind a memif port, kaon-bench on kaon's stack (the memif
# peer) as its clients. The command list ("/") holds kaon's commands; the
# per-state gauges of /kaon/tcp and the counters of /kaon/port,0 move with
# the traffic:
#   - idle: one TCB, LISTEN; no connection ESTABLISHED;
#   - a run that ends: its connections opened (tcp_passive_opens), closed
#     again (back to the listener alone), and kaon's side of the port
#     counted its frames both ways;
#   - a run held open: ESTABLISHED is exactly its connection count, the link
#     is up and the PMD's packet and byte counts grow between two reads.
# kaon-stat shows the same (the ss -s line, the port by name, --json).
#
# No root needed: memif runs on anonymous memory (no_huge), and DPDK and
# dpdk-telemetry.py agree on the runtime directory for any user. Every wait
# is for a state to be reached (with a 30 s bound), never a fixed sleep.
#
#   test_telemetry.sh BIN_DIR
set -eu

BIN=$1
skip() { echo "SKIP: $*"; exit 77; }
TEL=$(command -v dpdk-telemetry.py || true)
[ -n "$TEL" ] || skip "no dpdk-telemetry.py (Debian package dpdk-dev)"
command -v python3 >/dev/null || skip "no python3"

. "$(dirname "$0")/memif_conf.sh"
WORK=$(mktemp -d /tmp/kaon-telemetry.XXXXXX)
# Not kaon-*: scripts/testbed.sh clears /var/run/dpdk/kaon-* when another
# test takes the testbed down, telemetry socket and all.
PREFIX=htel-$$
CONNS=4
echo_pid= bench_pid=
# Under set -e every step must succeed or the rest is skipped: a process
# already gone (kill fails) or killed (wait returns 137) would have left
# DPDK's runtime directories behind.
cleanup() {
	if [ -n "$bench_pid" ]; then kill -KILL "$bench_pid" 2>/dev/null || true; fi
	if [ -n "$echo_pid" ]; then kill -KILL "$echo_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$WORK"
	memif_rm_runtime "$PREFIX"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in echo.log bench-a.log bench-b.log tel.out; do
		[ -f "$WORK/$f" ] && sed "s/^/  $f: /" "$WORK/$f" >&2
	done
	exit 1
}

memif_conf "$WORK/server.conf" server 198.18.0.2 "$PREFIX" "no_huge = 1"
memif_conf "$WORK/client.conf" client 198.18.0.1 "$PREFIX-cli" "no_huge = 1"

# tel CMD...: dpdk-telemetry.py's answers to CMDs, one JSON object a line,
# merged into one object keyed by the commands in $WORK/tel.json (DPDK keys
# a reply by the command without its parameters: "/kaon/port,0" answers
# {"/kaon/port": ...}).
tel() {
	printf '%s\n' "$@" | "$TEL" -f "$PREFIX" >"$WORK/tel.out" 2>&1 ||
		fail "dpdk-telemetry.py failed"
	python3 - "$WORK/tel.out" "$WORK/tel.json" "$@" <<'PY' || fail "dpdk-telemetry.py's reply"
import json, sys
replies = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cmds = sys.argv[3:]
assert len(replies) == len(cmds), (cmds, replies)
out = {}
for cmd, r in zip(cmds, replies):
    assert list(r) == [cmd.split(",")[0]], (cmd, r)
    out[cmd] = r[cmd.split(",")[0]]
json.dump(out, open(sys.argv[2], "w"))
PY
}
# check EXPR: EXPR (Python, over j = the last tel's object) holds.
check() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$WORK/tel.json" "$1"
}
# until_tel WHAT EXPR CMD...: ask CMDs until EXPR holds (30 s at most).
until_tel() {
	what=$1 expr=$2
	shift 2
	i=0
	while :; do
		tel "$@"
		check "$expr" && return 0
		i=$((i + 1))
		[ $i -lt 600 ] || fail "$what: never $expr; last: $(cat "$WORK/tel.json")"
		sleep 0.05
	done
}
# get EXPR: its value over the last tel's object.
get() {
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/tel.json" "$1"
}

"$BIN/kaon-echo" --stack user --config "$WORK/server.conf" --port 7 >"$WORK/echo.log" 2>&1 &
echo_pid=$!
i=0
until grep -q listening "$WORK/echo.log"; do
	kill -0 $echo_pid 2>/dev/null || fail "kaon-echo exited"
	i=$((i + 1))
	[ $i -lt 600 ] || fail "kaon-echo did not start in 30 s"
	sleep 0.05
done

# Idle: the commands are listed, the listener is the one TCB.
tel / /kaon/tcp /kaon/port /kaon/port,0 /kaon/stats
for c in /kaon/stats /kaon/tcp /kaon/drops /kaon/engine /kaon/port; do
	check "'$c' in j['/']" || fail "'/' does not list $c: $(get "j['/']")"
done
check "j['/kaon/tcp']['listen'] == 1 and j['/kaon/tcp']['established'] == 0" ||
	fail "idle: $(get "j['/kaon/tcp']")"
check "j['/kaon/tcp']['tcbs'] == 1" || fail "idle: tcbs $(get "j['/kaon/tcp']['tcbs']")"
check "j['/kaon/port,0']['name'].startswith('net_memif') and j['/kaon/port,0']['port'] == 0" ||
	fail "port 0: $(get "j['/kaon/port,0']")"
opens0=$(get "j['/kaon/stats']['tcp_passive_opens']")
rx0=$(get "j['/kaon/port']['rx']")
tx0=$(get "j['/kaon/port']['tx']")
echo "idle: $(get "j['/kaon/tcp']")"

# A run that ends: 3 connections open, echo, close.
"$BIN/kaon-bench" --stack user --config "$WORK/client.conf" --addr 198.18.0.2 --port 7 \
	--conns 3 --size 100 --mode pingpong --requests 20 --timeout 60 \
	>"$WORK/bench-a.log" 2>&1 || fail "kaon-bench (run a) failed"
until_tel "after run a" "j['/kaon/tcp']['tcbs'] == 1 and j['/kaon/tcp']['listen'] == 1" \
	/kaon/tcp /kaon/port /kaon/stats
check "j['/kaon/stats']['tcp_passive_opens'] == $opens0 + 3" ||
	fail "passive opens $opens0 -> $(get "j['/kaon/stats']['tcp_passive_opens']"), not +3"
# 60 requests each way, and the handshakes: at least that many frames in
# and out on kaon's side of the port. (The memif PMD's own counters start
# again from 0 whenever its peer goes: run b checks those, peer connected.)
check "j['/kaon/port']['rx'] >= $rx0 + 60 and j['/kaon/port']['tx'] >= $tx0 + 60" ||
	fail "port counters did not move: $(get "j['/kaon/port']")"
echo "after run a: $(get "j['/kaon/tcp']"), port rx $rx0 -> $(get "j['/kaon/port']['rx']")"

# A run held open: ESTABLISHED is its connection count while it runs.
"$BIN/kaon-bench" --stack user --config "$WORK/client.conf" --addr 198.18.0.2 --port 7 \
	--conns $CONNS --size 100 --mode pingpong --duration 600 --timeout 700 \
	>"$WORK/bench-b.log" 2>&1 &
bench_pid=$!
until_tel "run b" "j['/kaon/tcp']['established'] == $CONNS" /kaon/tcp /kaon/port,0
check "j['/kaon/tcp']['tcbs'] == $CONNS + 1" || fail "run b: $(get "j['/kaon/tcp']")"
check "j['/kaon/port,0']['link_up'] == 1" || fail "run b: $(get "j['/kaon/port,0']")"
ipk1=$(get "j['/kaon/port,0']['ipackets']")
ib1=$(get "j['/kaon/port,0']['ibytes']")
opk1=$(get "j['/kaon/port,0']['opackets']")
until_tel "run b's traffic" "j['/kaon/port,0']['ipackets'] > $ipk1 and \
	j['/kaon/port,0']['ibytes'] > $ib1 and j['/kaon/port,0']['opackets'] > $opk1" /kaon/port,0
echo "run b: $CONNS established; port 0 ipackets $ipk1 -> $(get "j['/kaon/port,0']['ipackets']")"

# kaon-stat reads the same, as text and JSON.
"$BIN/kaon-stat" --file-prefix "$PREFIX" >"$WORK/stat.txt" || fail "kaon-stat failed"
"$BIN/kaon-stat" --file-prefix "$PREFIX" --json >"$WORK/stat.json" || fail "kaon-stat --json failed"
grep -q "^TCP: $((CONNS + 1)) (estab $CONNS, listen 1" "$WORK/stat.txt" ||
	fail "kaon-stat: no ss -s line: $(cat "$WORK/stat.txt")"
grep -q "^Port 0 (net_memif0):" "$WORK/stat.txt" || fail "kaon-stat: no port 0 section"
grep -q "^ *$CONNS established$" "$WORK/stat.txt" || fail "kaon-stat: no established line"
python3 - "$WORK/stat.json" "$CONNS" <<'PY' || fail "kaon-stat --json: $(cat "$WORK/stat.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["/kaon/tcp"]["established"] == int(sys.argv[2]), j["/kaon/tcp"]
assert j["/kaon/port,0"]["ipackets"] > 0 and j["/kaon/port,0"]["name"] == "net_memif0"
PY

kill -TERM $bench_pid
wait $bench_pid 2>/dev/null || true
bench_pid=
kill -TERM $echo_pid
wait $echo_pid || fail "kaon-echo did not exit cleanly"
echo_pid=
echo "PASS"
