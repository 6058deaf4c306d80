#!/bin/sh
# scripts/testbed.sh: up is idempotent and builds a working link, addr
# on/off gives and takes the server's kernel address, bad input is refused,
# down removes everything (twice is fine). Root only: exit 77 (skip) else.
set -u
TB="$1"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root to create network namespaces"
	exit 77
fi
fail() { echo "FAIL: $*"; "$TB" down >/dev/null 2>&1; exit 1; }

"$TB" down || fail "down on a clean machine"
"$TB" up || fail "up"
"$TB" up || fail "second up"
ip netns exec kaon-srv ip -br addr show veth-srv | grep -q 198.18.0.2 &&
	fail "veth-srv has a kernel address by default"
"$TB" addr on || fail "addr on"
ip netns exec kaon-cli ping -c 1 -W 2 198.18.0.2 >/dev/null || fail "no ping with addr on"
"$TB" addr off || fail "addr off"
ip netns exec kaon-cli ping -c 1 -W 1 198.18.0.2 >/dev/null 2>&1 && fail "ping answered with addr off"
"$TB" addr maybe >/dev/null 2>&1 && fail "addr maybe accepted"
"$TB" up --bogus >/dev/null 2>&1 && fail "up --bogus accepted"
"$TB" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command not exit 2"
# Half-made state from an interrupted run: the pair is rebuilt.
ip netns exec kaon-cli ip link del veth-cli
"$TB" up --srv-addr on || fail "up after a half-removed pair"
ip netns exec kaon-cli ping -c 1 -W 2 198.18.0.2 >/dev/null || fail "no ping after repair"
"$TB" down || fail "down"
"$TB" down || fail "second down"
ip netns list | grep -q kaon- && fail "namespaces left behind"
echo "1 passed, 0 failed"
