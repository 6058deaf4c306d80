#!/bin/sh
# kaon-httpd on kaon's user-space stack (af_xdp) on the veth testbed: curl in
# the client namespace, through the Linux kernel's TCP, fetches files of
# 64 B, 4 KiB, 64 KiB and 1 MiB (each alone, then all on one connection) and
# the hashes must match; a 404 and an escape attempt get their statuses; the
# server exits 0 on SIGINT with no connection error counted.
#
# usage: test_httpd_user.sh SRCDIR BINDIR      (root; exit 77 = skipped)
set -u
SRC="$1" BIN="$2"
. "$SRC/tests/testbed/tb_lib.sh"
tb_init "network namespaces and AF_XDP" kaon-httpd-tb
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/deps.sh)"; exit 77; }

mkdir -p "$WORK/root"
for f in 64:f64.bin 4096:f4k.bin 65536:f64k.bin 1048576:f1m.bin; do
	head -c "${f%%:*}" /dev/urandom >"$WORK/root/${f#*:}"
done
cat >"$WORK/af_xdp.conf" <<CONF
[dpdk]
lcores = 1
vdev = net_af_xdp0,iface=veth-srv,start_queue=0
memory = 256
no_huge = 1
file_prefix = kaon-tb-httpd
log_level = 4
[port0]
addr = 198.18.0.2
netmask = /24
[tcp]
time_wait = 100
CONF

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
for f in f64.bin f4k.bin f64k.bin f1m.bin; do
	if cli curl -sS --fail --max-time 20 -o "$WORK/got-$f" "$URL/$f" &&
		cmp -s "$WORK/root/$f" "$WORK/got-$f"; then
		ok "GET $f intact"
	else
		bad "GET $f"
	fi
done
set --
for f in f64.bin f4k.bin f64k.bin f1m.bin f64.bin; do
	set -- "$@" -o "$WORK/many-$f" "$URL/$f"
done
conns=$(cli curl -sS --fail --max-time 30 -w '%{num_connects}' "$@")
all=1
for f in f64.bin f4k.bin f64k.bin f1m.bin; do
	cmp -s "$WORK/root/$f" "$WORK/many-$f" || all=0
done
[ $all -eq 1 ] && [ "$conns" = "10000" ] && ok "five files on one connection" ||
	bad "five on one connection: connects per transfer '$conns', intact $all"
code=$(cli curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/nothing")
[ "$code" = 404 ] && ok "missing file: 404" || bad "missing file: $code"
code=$(cli curl -s --path-as-is -o /dev/null -w '%{http_code}' --max-time 10 "$URL/%2e%2e/etc/passwd")
[ "$code" = 400 ] && ok "escape: 400" || bad "escape: $code"

kill -INT "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
SERVER_PID=
[ $rc -eq 0 ] && ok "clean exit on SIGINT" || bad "exit status $rc on SIGINT"
grep -q "connection errors 0" "$WORK/server.log" && ok "no connection errors" ||
	bad "counters: $(grep connections "$WORK/server.log")"

tb_done
