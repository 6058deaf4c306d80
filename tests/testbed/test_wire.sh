#!/bin/sh
# The impairment wire (bench/wire.c) in the testbed's path: `testbed.sh up
# --wire "delay=20ms loss=1%"` puts it between kaon-cli and kaon-srv, the
# client's ping then takes at least 40 ms, 64 MiB echoed through it by a
# kaon-echo on the kernel's TCP (--stack epoll) come back whole (sha256),
# the wire's counters show the delay and the losses, and `up` without
# --wire, then `down`, take it away again. (Through the wire kaon-echo once
# missed the end of a stream whose last bytes and FIN came in one edge:
# fixed in src/io/epoll.c, tested in test_io.)
#
# usage: test_wire.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_init "network namespaces and packet sockets" kaon-wire-tb
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
[ -x "$BIN/kaon-wire" ] || { echo "FAIL: $BIN/kaon-wire not built"; exit 1; }
export KAON_WIRE="$BIN/kaon-wire"
cli() { ip netns exec kaon-cli "$@"; }

"$TB" down >/dev/null 2>&1
if ! "$TB" up --srv-addr on --wire "delay=20ms loss=1% seed=11"; then
	echo "FAIL testbed up --wire"
	exit 1
fi
ip netns list | grep -q '^kaon-wire' && ok "namespace kaon-wire made" || bad "no kaon-wire"

# Round trips: 20 ms each way. Some pings may be lost (1% each way).
rtt=$(cli ping -c 10 -i 0.2 -W 2 198.18.0.2 | sed -n 's|^rtt [^=]*= \([0-9.]*\)/.*|\1|p')
if [ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 40.0 && r < 80.0) }'; then
	ok "ping min rtt $rtt ms (>= 40)"
else
	bad "ping min rtt '$rtt' ms"
fi

ip netns exec kaon-srv "$BIN/kaon-echo" --stack epoll --addr 198.18.0.2 --port 7 \
	>"$WORK/echo.log" 2>&1 &
SERVER_PID=$!
started=0
for _ in $(seq 1 50); do
	grep -q "listening on" "$WORK/echo.log" && { started=1; break; }
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
[ $started -eq 1 ] || { echo "FAIL the echo server did not start:"; cat "$WORK/echo.log"; exit 1; }

# 64 MiB each way at 1% loss and 40 ms. With CUBIC or Reno, Linux's TCP is
# loss-bound (about 1.2/sqrt(p) segments per round trip: ~3.5 Mb/s a
# connection), so four connections share the work; BBR (this machine's
# default) does it in seconds.
res=$(cli python3 "$SRC/bench/wire_bulk.py" echo --addr 198.18.0.2 --port 7 \
	--bytes 67108864 --flows 4 --timeout 400)
echo "  echo: $res"
case "$res" in
*'"ok": true'*) ok "64 MiB echoed through the wire, intact" ;;
*) bad "64 MiB echo: $res" ;;
esac

stats=$("$TB" wire stats)
echo "  wire: $(echo "$stats" | tr -d '\n' | cut -c1-400)"
if echo "$stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
c, r = s["c2s"], s["s2c"]
# Each direction: everything delayed, about 1% lost, nothing else dropped.
for d in (c, r):
    assert d["rx"] > 40000, d
    assert d["delayed"] == d["tx"] + d["held"], d
    assert 0.005 < d["drop"]["loss"] / d["rx"] < 0.02, d
    assert sum(d["drop"].values()) == d["drop"]["loss"], d
    assert d["ring_drops"] == 0, d
'; then
	ok "wire counters: delayed all, lost about 1%, no other drops"
else
	bad "wire counters"
fi

kill "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=

# Back to the plain pair, then nothing left.
"$TB" up --srv-addr on || bad "up without --wire"
ip netns list | grep -q '^kaon-wire' && bad "kaon-wire left after up without --wire"
rtt=$(cli ping -c 3 -i 0.2 -W 2 198.18.0.2 | sed -n 's|^rtt [^=]*= \([0-9.]*\)/.*|\1|p')
if [ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r < 10.0) }'; then
	ok "plain pair again: rtt $rtt ms"
else
	bad "plain pair: rtt '$rtt'"
fi
"$TB" up --wire "delay=1ms" || bad "second up --wire"
# Another spec on the running wire; a bad one is refused and changes nothing.
"$TB" addr on
"$TB" wire "delay=10ms seed=2" || bad "wire SPEC"
rtt=$(cli ping -c 3 -i 0.2 -W 2 198.18.0.2 | sed -n 's|^rtt [^=]*= \([0-9.]*\)/.*|\1|p')
if [ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 20.0 && r < 40.0) }'; then
	ok "wire SPEC: rtt $rtt ms (>= 20)"
else
	bad "wire SPEC: rtt '$rtt'"
fi
"$TB" wire "delay=fast" >/dev/null 2>&1 && bad "bad spec accepted" || ok "bad spec refused"
"$TB" wire stats | grep -q '"spec": "delay=10ms seed=2"' && ok "the wire before it still runs" ||
	bad "a bad spec stopped the wire"
"$TB" down || bad "down"
ip netns list | grep -q '^kaon-' && bad "namespaces left after down" || ok "down removed everything"

tb_done
