#!/bin/sh
# Install the Debian packages kaon's build, tests, benchmarks and demo need.
# Idempotent and silent when everything is already there.
set -eu

# dpdk-dev: dpdk-dumpcap and dpdk-telemetry.py (test_capture, test_kaon_stat);
# tshark reads the captures back; python3-matplotlib draws bench/run's tables.
PKGS="build-essential cmake pkg-config clang lld libcmocka-dev liburing-dev \
libdpdk-dev libinih-dev libbpf-dev libxdp-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
qemu-user-static iproute2 ethtool iputils-ping valgrind python3 curl wrk nginx-light \
dpdk-dev tshark python3-matplotlib"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
	command -v sudo >/dev/null || {
		echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
		exit 1
	}
else
	SUDO=
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark's package asks whether non-root users may capture: no (and no prompt).
echo "wireshark-common wireshark-common/install-setuid boolean false" |
	$SUDO debconf-set-selections
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
