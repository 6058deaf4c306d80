# SPDX-License-Identifier: MIT
# What the testbed scripts share; sourced once SRC and BIN are set.
# tb_init WHAT NAME: skip (exit 77) without root, saying what root is for;
# make $WORK (/tmp/NAME.XXXXXX); on exit kill $SERVER_PID, take the testbed
# down and remove $WORK. ok/bad count the checks; tb_done prints the tally
# and is the script's status.
TB="$SRC/scripts/testbed.sh"
SERVER_PID=
passed=0 failed=0

tb_cleanup() {
	[ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
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

ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# tb_bench PORT ARGS...: kaon-bench (kernel epoll) from the client namespace
# against the server's 198.18.0.2:PORT.
tb_bench() {
	port=$1
	shift
	ip netns exec kaon-cli "$BIN/kaon-bench" --addr 198.18.0.2 --port "$port" --stack epoll "$@"
}

tb_done() {
	echo "passed $passed, failed $failed"
	[ $failed -eq 0 ]
}
