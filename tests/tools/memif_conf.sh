# Sourced by the tests that put kaon-echo and kaon-bench on kaon's stack at
# the two ends of one memif link (test_telemetry.sh, test_capture.sh), and
# by test_l2_memif.sh (bench/l2reflect and bench/l2ping-dpdk on one).
#
# memif_conf FILE ROLE ADDR PREFIX [DPDK_LINE...]: writes FILE, a kaon config
# for the ROLE (server or client) end of the memif on $WORK/memif.sock, port
# address ADDR, DPDK file prefix PREFIX; each DPDK_LINE ("no_huge = 1",
# "lcores = 0,1") goes into [dpdk] as it is. The client keeps TIME_WAIT short:
# kaon-bench waits for its TCBs to go before it exits.
memif_conf() {
	_f=$1 _role=$2 _addr=$3 _prefix=$4
	shift 4
	{
		echo "[dpdk]"
		for _l in "$@"; do echo "$_l"; done
		echo "vdev = net_memif0,role=$_role,socket=$WORK/memif.sock,id=0"
		echo "memory = 128"
		echo "file_prefix = $_prefix"
		echo "nb_mbufs = 8191"
		echo "[port0]"
		echo "addr = $_addr"
		if [ "$_role" = client ]; then
			echo "[tcp]"
			echo "time_wait = 100"
		fi
	} >"$_f"
}

# memif_rm_runtime PREFIX: remove the runtime directories DPDK leaves
# behind for file prefixes PREFIX and PREFIX-cli (root's are in /var/run).
memif_rm_runtime() {
	_run=/var/run
	[ "$(id -u)" -eq 0 ] || _run=${XDG_RUNTIME_DIR:-/tmp}
	rm -rf "$_run/dpdk/$1" "$_run/dpdk/$1-cli"
}
