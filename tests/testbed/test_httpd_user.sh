#!/bin/sh
# kaon-httpd on kaon's user-space stack (af_xdp) on the veth testbed: curl in
# the client namespace, through the Linux kernel's TCP, fetches files of
# 1 B, 64 B, 4 KiB, 64 KiB, 64 KiB + 1, 1 MiB and 8 MiB (each alone, then all
# on one connection) and they must match; the large ones leave as pages lent
# to the stack (kaon_sendv_ref), counted as "lent". A 404 and an escape
# attempt get their statuses. A file truncated while a slow client fetches
# it: the response is cut (never completed with made-up bytes), the server
# survives and serves the next request. The server exits 0 on SIGINT with
# no connection error counted but that one.
#
# usage: test_httpd_user.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_init "network namespaces and AF_XDP" kaon-httpd-tb
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/deps.sh)"; exit 77; }

mkdir -p "$WORK/root"
FILES="f1.bin f64.bin f4k.bin f64k.bin f64k1.bin f1m.bin f8m.bin"
for f in 1:f1.bin 64:f64.bin 4096:f4k.bin 65536:f64k.bin 65537:f64k1.bin 1048576:f1m.bin \
	8388608:f8m.bin 16777216:trunc.bin; do
	head -c "${f%%:*}" /dev/urandom >"$WORK/root/${f#*:}"
done
tb_conf "$WORK/af_xdp.conf" 1 1 net_af_xdp0,iface=veth-srv,start_queue=0 kaon-tb-httpd 256

"$TB" down >/dev/null 2>&1
"$TB" up || { echo "FAIL testbed up"; exit 1; }

ip netns exec kaon-srv "$BIN/kaon-httpd" --stack user --config "$WORK/af_xdp.conf" --port 80 \
	--root "$WORK/root" --cpu 1 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
started=0
for _ in $(seq 1 100); do
	grep -q "listening on" "$WORK/server.log" && { started=1; break; }
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
if [ $started -ne 1 ]; then
	echo "FAIL server did not start:"
	tail -20 "$WORK/server.log"
	exit 1
fi

URL=http://198.18.0.2:80
cli() { ip netns exec kaon-cli "$@"; }
for f in $FILES; do
	if cli curl -sS --fail --max-time 20 -o "$WORK/got-$f" "$URL/$f" &&
		cmp -s "$WORK/root/$f" "$WORK/got-$f"; then
		ok "GET $f intact"
	else
		bad "GET $f"
	fi
done
set --
for f in $FILES f64.bin; do
	set -- "$@" -o "$WORK/many-$f" "$URL/$f"
done
conns=$(cli curl -sS --fail --max-time 30 -w '%{num_connects}' "$@")
all=1
for f in $FILES; do
	cmp -s "$WORK/root/$f" "$WORK/many-$f" || all=0
done
[ $all -eq 1 ] && [ "$conns" = "10000000" ] && ok "eight files on one connection" ||
	bad "eight on one connection: connects per transfer '$conns', intact $all"
code=$(cli curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/nothing")
[ "$code" = 404 ] && ok "missing file: 404" || bad "missing file: $code"
code=$(cli curl -s --path-as-is -o /dev/null -w '%{http_code}' --max-time 10 "$URL/%2e%2e/etc/passwd")
[ "$code" = 400 ] && ok "escape: 400" || bad "escape: $code"

# Truncated while sent: curl reads slowly, so most of the 16 MiB is still to
# go (and up to a send buffer of it lent to the stack) when the file shrinks.
cli curl -sS --max-time 30 --limit-rate 2M -o "$WORK/got-trunc" "$URL/trunc.bin" \
	>"$WORK/curl-trunc.log" 2>&1 &
CURL_PID=$!
sleep 1
truncate -s 4096 "$WORK/root/trunc.bin"
wait "$CURL_PID"
crc=$?
got=$(stat -c %s "$WORK/got-trunc" 2>/dev/null || echo 0)
[ $crc -ne 0 ] && [ "$got" -lt 16777216 ] && ok "truncated file: response cut (curl exit $crc, $got bytes)" ||
	bad "truncated file: curl exit $crc, $got bytes"
if cli curl -sS --fail --max-time 20 -o "$WORK/got-after" "$URL/f64k1.bin" &&
	cmp -s "$WORK/root/f64k1.bin" "$WORK/got-after"; then
	ok "served after the truncation"
else
	bad "nothing served after the truncation"
fi

kill -INT "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=
[ $rc -eq 0 ] && ok "clean exit on SIGINT" || bad "exit status $rc on SIGINT"
# The truncated response is the one connection error allowed.
grep -Eq "connection errors [01]," "$WORK/server.log" && ok "no other connection errors" ||
	bad "counters: $(grep connections "$WORK/server.log")"
grep -Eq "lent [1-9]" "$WORK/server.log" && ok "file pages lent to the stack" ||
	bad "nothing lent: $(grep connections "$WORK/server.log")"

tb_done
