#!/bin/sh
# bench/plot.py draws bench/run's tables: fed a small latest.json (a
# 127.0.0.1 table and a testbed table) and an echo-*.json, it writes an SVG
# and a PNG per table; without matplotlib it says so and exits 0.
#
#   test_plot.sh SOURCE_DIR
set -eu
SRC=$1
PY=/usr/bin/python3
[ -x $PY ] || { echo "SKIP: no $PY"; exit 77; }
$PY -c "import matplotlib" 2>/dev/null ||
	{ echo "SKIP: no matplotlib for $PY (Debian package python3-matplotlib)"; exit 77; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$WORK/latest.json" <<'EOF2'
[
 {"server": "ref-epoll", "client": "kernel-epoll", "path": "127.0.0.1", "conns": 1, "size": 64,
  "mode": "pingpong", "requests_per_sec": 41000.0, "gbps": 0.04, "p50_us": 23.1, "p99_us": 40.2},
 {"server": "kaon-epoll", "client": "kernel-epoll", "path": "127.0.0.1", "conns": 1, "size": 64,
  "mode": "pingpong", "requests_per_sec": 40000.0, "gbps": 0.04, "p50_us": 24.0, "p99_us": 41.0},
 {"server": "ref-epoll", "client": "kernel-epoll", "path": "127.0.0.1", "conns": 64, "size": 64,
  "mode": "pingpong", "requests_per_sec": 160000.0, "gbps": 0.1, "p50_us": 390.0, "p99_us": 700.0},
 {"server": "kaon-epoll", "client": "kernel-epoll", "path": "127.0.0.1", "conns": 64, "size": 64,
  "mode": "pingpong", "requests_per_sec": 170000.0, "gbps": 0.1, "p50_us": 370.0, "p99_us": 650.0},
 {"server": "kaon-user-af_xdp", "client": "kernel", "path": "veth af_xdp", "conns": 1, "size": 64,
  "mode": "pingpong", "requests_per_sec": 60000.0, "gbps": 0.06, "p50_us": 15.0, "p99_us": 30.0},
 {"server": "raw-l2", "client": "raw", "path": "veth af_packet", "conns": 1, "size": 64,
  "mode": "pingpong", "requests_per_sec": 3000000.0, "gbps": 1.5, "p50_us": 0, "p99_us": 0}
]
EOF2
cat >"$WORK/echo-1.json" <<'EOF2'
{"when": "1", "summary": [
 {"scenario": "stream-4", "server": "ref-epoll", "mode": "stream", "conns": 4, "size": 512,
  "rps_median": 900000.0, "p50_us": 100.0, "p99_us": 300.0, "p999_us": 900.0}]}
EOF2

out=$($PY "$SRC/bench/plot.py" --out-dir "$WORK/pics" "$WORK/latest.json" "$WORK/echo-1.json") ||
	fail "plot.py failed: $out"
echo "$out"
for f in latest-loopback latest-testbed echo-1-loopback; do
	[ -s "$WORK/pics/$f.svg" ] || fail "no $f.svg"
	[ -s "$WORK/pics/$f.png" ] || fail "no $f.png"
	grep -q "<svg" "$WORK/pics/$f.svg" || fail "$f.svg is no SVG"
	head -c 8 "$WORK/pics/$f.png" | grep -q PNG || fail "$f.png is no PNG"
	echo "$out" | grep -q "picture: .*$f.svg" || fail "plot.py did not name $f.svg"
done

# Without matplotlib: a message, exit 0, no picture.
mkdir -p "$WORK/fake/matplotlib"
echo 'raise ImportError("not here")' >"$WORK/fake/matplotlib/__init__.py"
out=$(PYTHONPATH="$WORK/fake" $PY "$SRC/bench/plot.py" --out-dir "$WORK/none" "$WORK/latest.json") ||
	fail "plot.py failed without matplotlib"
echo "$out" | grep -q "matplotlib is missing" || fail "no message without matplotlib: $out"
[ ! -e "$WORK/none" ] || fail "pictures without matplotlib?"
# A file that is not bench/run's: an error naming it.
echo '{"x": 1}' >"$WORK/bad.json"
if $PY "$SRC/bench/plot.py" "$WORK/bad.json" 2>"$WORK/err"; then fail "bad.json accepted"; fi
grep -q "bad.json" "$WORK/err" || fail "bad.json not named: $(cat "$WORK/err")"
echo PASS
