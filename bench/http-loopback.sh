#!/bin/sh
# kaon-httpd (epoll, io_uring) against nginx (one worker, access_log off,
# sendfile on, keep-alive) on 127.0.0.1, driven by wrk (1 thread): the quick
# look before the testbed rows of bench/run (issue 13). Same files, same
# server CPU, one row per file size and connection count; requests/s, transfer
# rate, wrk's p50/p99 latency, and kaon-httpd's requests/s over nginx's.
#
# usage: bench/http-loopback.sh [BUILD] [SECONDS] [CONNS...]
#   defaults: build, 5 s, connections "1 64 256"
# Needs wrk, nginx and curl (scripts/deps.sh installs them).
set -eu
BUILD=${1:-build}
SECS=${2:-5}
[ $# -gt 2 ] && { shift 2; CONNS="$*"; } || CONNS="1 64 256"
SRV_CPU=${SRV_CPU:-1}
CLI_CPU=${CLI_CPU:-0}
command -v wrk >/dev/null && command -v nginx >/dev/null && command -v curl >/dev/null ||
	{ echo "needs wrk and nginx: scripts/deps.sh" >&2; exit 77; }
W=$(mktemp -d /tmp/kaon-http-bench.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT INT TERM
chmod 755 "$W" # nginx workers run as another user
mkdir -p "$W/root" "$W/ng"
for f in 64:64.bin 4096:4k.bin 65536:64k.bin 1048576:1m.bin; do
	head -c "${f%%:*}" /dev/urandom >"$W/root/${f#*:}"
done
PORT=18080
cat >"$W/ng/nginx.conf" <<EOF
worker_processes 1;
worker_cpu_affinity $(printf '1%*s' "$SRV_CPU" '' | tr ' ' 0);
daemon off;
pid $W/ng/nginx.pid;
error_log $W/ng/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000000;
  keepalive_timeout 60;
  client_body_temp_path $W/ng/body;
  proxy_temp_path $W/ng/proxy;
  fastcgi_temp_path $W/ng/fcgi;
  uwsgi_temp_path $W/ng/uwsgi;
  scgi_temp_path $W/ng/scgi;
  types { application/octet-stream bin; }
  server { listen 127.0.0.1:$PORT; root $W/root; }
}
EOF

start() {
	case $1 in
	nginx) nginx -c "$W/ng/nginx.conf" >"$W/srv.log" 2>&1 & ;;
	*) "$BUILD/bin/kaon-httpd" --stack "$1" --port $PORT --root "$W/root" \
		--cpu "$SRV_CPU" >"$W/srv.log" 2>&1 & ;;
	esac
	PID=$!
	for _ in $(seq 1 50); do
		curl -sf -o /dev/null "http://127.0.0.1:$PORT/64.bin" && return 0
		sleep 0.1
	done
	echo "$1 did not start: $(cat "$W/srv.log")" >&2
	exit 1
}

stop() {
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	PID=
}

# One wrk run: "req/s transfer p50 p99 errors".
run() {
	out=$(taskset -c "$CLI_CPU" wrk -t1 -c"$2" -d"${SECS}s" --latency "http://127.0.0.1:$PORT/$1")
	rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	tr=$(echo "$out" | awk '/^Transfer\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	err=$(echo "$out" | awk '/Non-2xx|Socket errors/ {e = e $0 "; "} END {print e ? e : "0"}')
	echo "$rps $tr $p50 $p99 $err"
}

printf '%-6s %-6s %5s %12s %10s %9s %9s %8s  %s\n' server file conns req/s transfer p50 p99 "vs nginx" errors
for srv in nginx epoll uring; do
	start $srv
	for f in 64.bin 4k.bin 64k.bin 1m.bin; do
		for c in $CONNS; do
			set -- $(run $f $c)
			key=$(echo "${f}_$c" | tr . _)
			if [ $srv = nginx ]; then
				eval "NG_$key=$1"
				ratio=1.00
			else
				ratio=$(eval "awk -v a=$1 -v b=\$NG_$key 'BEGIN {printf \"%.2f\", a / b}'")
			fi
			printf '%-6s %-6s %5s %12s %10s %9s %9s %8s  %s\n' $srv $f $c $1 $2 $3 $4 $ratio "$5"
		done
	done
	stop
done
