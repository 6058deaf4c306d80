# SPDX-License-Identifier: MIT
"""Echo benchmarks on the veth testbed (scripts/testbed.sh), side by side.

Servers run in namespace kaon-srv pinned to one CPU, the client in kaon-cli
pinned to the other. Rows:
  (a) ref-epoll       plain epoll echo on the kernel (no kaon code)
  (b) kaon-epoll      kaon-echo on the kernel through epoll
  (c) kaon-uring      kaon-echo on the kernel through io_uring
  (d) kaon-user-xdp   kaon-echo on kaon's stack, DPDK af_xdp PMD
  (e) kaon-user-pkt   kaon-echo on kaon's stack, DPDK af_packet PMD
  (f) kaon-user-bif   as (d) with flow bifurcation on (kernel shares the address)
  (g) user-user-xdp   kaon-bench on kaon's stack too, veth af_xdp both ends
  (h) user-user-memif both ends on kaon's stack over shared memory (memif)
  (i) raw-l2          l2reflect (DPDK af_xdp, MAC swap) and l2ping (kernel
                      AF_PACKET): the ceiling of the kernel-client rows
  (j) raw-l2-xdp      l2reflect and l2ping-dpdk, both DPDK af_xdp on the veth
  (k) raw-l2-pkt      the same on the af_packet PMD
  (l) raw-l2-memif    the same over memif
(a)-(f) are driven by the same kernel kaon-bench from kaon-cli. Each row's
"% raw" is its share of the raw L2 ping-pong rate of its own path (CEILING):
the user-to-user rows against the DPDK-to-DPDK ceilings (j) and (l), with no
kernel socket in the loop; the kernel-client rows against (i). There is no
user-to-user row on af_packet: the kernel of kaon-cli still sees every frame
there and resets the connections its address does not know; (k) is the
ceiling of that path for whoever needs it. Repetitions
are interleaved server by server. Needs root; used by bench/run.
"""
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTBED = os.path.join(ROOT, "scripts", "testbed.sh")
SRV_ADDR = "198.18.0.2"

BIF_CONF = """[dpdk]
lcores = {cpu}
vdev = net_af_xdp0,iface=veth-srv,start_queue=0
memory = 256
no_huge = 1
file_prefix = kaon-bench-bif
[port0]
addr = 198.18.0.2
netmask = /24
[tcp]
time_wait = 200
[bifurcation]
mode = xdp
tcp_ports = 7
"""

PKT_CONF = """[dpdk]
lcores = {cpu}
vdev = net_af_packet0,iface=veth-srv
memory = 256
no_huge = 1
file_prefix = kaon-bench-pkt
[port0]
addr = 198.18.0.2
netmask = /24
[tcp]
time_wait = 200
"""

# The client end of the af_packet ceiling (l2ping-dpdk in kaon-cli).
PKT_CLI_CONF = """[dpdk]
lcores = {cpu}
vdev = net_af_packet0,iface=veth-cli
memory = 256
no_huge = 1
file_prefix = kaon-bench-pkt-cli
[port0]
addr = 198.18.0.1
netmask = /24
[tcp]
time_wait = 200
"""

# Each row's ceiling: the raw L2 ping-pong of the same path.
CEILING = {
    "ref-epoll": "raw-l2", "kaon-epoll": "raw-l2", "kaon-uring": "raw-l2",
    "kaon-user-xdp": "raw-l2", "kaon-user-pkt": "raw-l2", "kaon-user-bif": "raw-l2",
    "user-user-xdp": "raw-l2-xdp", "user-user-memif": "raw-l2-memif",
}


def sh(*argv, check=True):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True)


# The testbed's namespaces have fixed names: one user at a time on this
# machine (tests and other benchmark runs take the same lock).
TESTBED_LOCK = "/run/lock/kaon-testbed.lock"
_lock_fd = None


def testbed(*args):
    global _lock_fd
    if _lock_fd is None:
        import fcntl
        os.makedirs(os.path.dirname(TESTBED_LOCK), exist_ok=True)
        _lock_fd = open(TESTBED_LOCK, "w")
        fcntl.flock(_lock_fd, fcntl.LOCK_EX)
    sh(TESTBED, *args)


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


class Proc:
    """A server (or reflector) started in a namespace, waited for by a line."""

    def __init__(self, name, argv, ready, env=None):
        self.name = name
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=e)
        deadline = time.monotonic() + 20
        self.banner = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if ready in line:
                self.banner = line.strip()
                return
        self.stop()
        raise RuntimeError("%s did not start: %s" % (name, self.proc.stderr.read()[-400:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


def kaon_bench(bindir, cpu, mode, conns, size, duration, warmup, stack="epoll",
               config=None, ns="kaon-cli"):
    argv = ["taskset", "-c", str(cpu), os.path.join(bindir, "kaon-bench"), "--addr", SRV_ADDR,
            "--port", "7", "--conns", str(conns), "--size", str(size), "--mode", mode,
            "--duration", str(duration), "--warmup", str(warmup), "--stack", stack,
            "--cpu", str(cpu), "--json"]
    if config:
        argv += ["--config", config]
    if ns:
        argv = in_ns(ns, argv)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + warmup + 60)
    res = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            res = json.loads(line)
    if res is None:
        res = {"requests_per_sec": 0.0, "gbps": 0.0, "p50_us": 0.0, "p99_us": 0.0}
    res["exit"] = p.returncode
    if p.returncode:
        res["stderr"] = p.stderr.strip()[-300:]
    return res


def l2ping_result(p):
    """A row from l2ping's or l2ping-dpdk's --json line (round trips/s)."""
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            return {"requests_per_sec": r["round_trips_per_sec"], "gbps": 0.0,
                    "p50_us": 0.0, "p99_us": 0.0, "exit": p.returncode}
    return {"requests_per_sec": 0.0, "gbps": 0.0, "p50_us": 0.0, "p99_us": 0.0,
            "exit": p.returncode or 1, "stderr": p.stderr[-300:]}


def l2ping(bindir, cpu, inflight, duration, mac):
    argv = in_ns("kaon-cli", ["taskset", "-c", str(cpu), os.path.join(bindir, "l2ping"),
                              "--iface", "veth-cli", "--dst", mac, "--inflight",
                              str(inflight), "--duration", str(duration), "--json"])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30)
    return l2ping_result(p)


def l2ping_dpdk(bindir, config, ns, inflight, duration, mac):
    """The DPDK pinger: @config names its port (and vdev), @ns its namespace."""
    argv = [os.path.join(bindir, "l2ping-dpdk"), config, "--inflight", str(inflight),
            "--duration", str(duration), "--json"]
    if mac:
        argv += ["--dst", mac]
    if ns:
        argv = in_ns(ns, argv)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    return l2ping_result(p)


def server_specs(bindir, scpu, tmp, ccpu=0):
    """(name, client kind, path, how to start the server)."""
    echo = os.path.join(bindir, "kaon-echo")
    conf = lambda n: os.path.join(ROOT, "conf", n)
    with open(os.path.join(tmp, "bif.conf"), "w") as f:
        f.write(BIF_CONF.format(cpu=scpu))
    with open(os.path.join(tmp, "pkt.conf"), "w") as f:
        f.write(PKT_CONF.format(cpu=scpu))
    with open(os.path.join(tmp, "pkt-cli.conf"), "w") as f:
        f.write(PKT_CLI_CONF.format(cpu=ccpu))

    def kernel(argv):
        def start():
            testbed("addr", "on")
            return Proc(argv[0], in_ns("kaon-srv", ["taskset", "-c", str(scpu)] + argv),
                        "listening on")
        return start

    def user(config, addr_on=False, env=None, ns="kaon-srv"):
        def start():
            testbed("addr", "on" if addr_on else "off")
            if not ns and os.path.exists("/run/kaon-memif.sock"):
                os.unlink("/run/kaon-memif.sock")  # left by a killed run
            argv = [echo, "--stack", "user", "--config", config, "--port", "7",
                    "--cpu", str(scpu)]
            return Proc("kaon-echo", in_ns(ns, argv) if ns else argv, "listening on", env)
        return start

    def reflector(config, ns="kaon-srv"):
        def start():
            testbed("addr", "off")
            if not ns and os.path.exists("/run/kaon-memif.sock"):
                os.unlink("/run/kaon-memif.sock")  # left by a killed run
            argv = ["taskset", "-c", str(scpu), os.path.join(bindir, "l2reflect"), config]
            return Proc("l2reflect", in_ns(ns, argv) if ns else argv, "reflecting")
        return start

    xdp_env = {"KAON_XDP_PROG": os.path.join(os.path.dirname(bindir), "bpf", "kaon_xdp.o")}
    return [
        ("ref-epoll", "kernel", "veth", kernel([os.path.join(bindir, "ref-epoll-echo"),
                                               "--addr", SRV_ADDR, "--port", "7"])),
        ("kaon-epoll", "kernel", "veth", kernel([echo, "--stack", "epoll", "--addr", SRV_ADDR,
                                                "--port", "7", "--cpu", str(scpu)])),
        ("kaon-uring", "kernel", "veth", kernel([echo, "--stack", "uring", "--addr", SRV_ADDR,
                                                "--port", "7", "--cpu", str(scpu)])),
        ("kaon-user-xdp", "kernel", "veth af_xdp", user(conf("testbed.conf"))),
        ("kaon-user-pkt", "kernel", "veth af_packet", user(os.path.join(tmp, "pkt.conf"))),
        ("kaon-user-bif", "kernel", "veth af_xdp bifurcation",
         user(os.path.join(tmp, "bif.conf"), addr_on=True, env=xdp_env)),
        ("user-user-xdp", "user-xdp", "veth af_xdp", user(conf("testbed.conf"))),
        ("user-user-memif", "user-memif", "memif",
         user(conf("memif-server.conf"), ns=None)),
        ("raw-l2", "l2ping", "veth af_xdp", reflector(conf("testbed.conf"))),
        ("raw-l2-xdp", "l2ping-xdp", "veth af_xdp", reflector(conf("testbed.conf"))),
        ("raw-l2-pkt", "l2ping-pkt", "veth af_packet",
         reflector(os.path.join(tmp, "pkt.conf"))),
        ("raw-l2-memif", "l2ping-memif", "memif", reflector(conf("memif-server.conf"), ns=None)),
    ]


def server_died(proc, settle=0.3):
    """Whether @proc exited, given @settle seconds to do so after its last
    client closed (a crash in the PMD's receive comes within milliseconds)."""
    try:
        proc.proc.wait(timeout=settle)
        return True
    except subprocess.TimeoutExpired:
        return False


def run(bindir, scenarios, reps, duration, warmup, scpu, ccpu, only=None, log=print):
    """Run every server over every scenario, reps times. @return result records."""
    records = []
    tmp = tempfile.mkdtemp(prefix="kaon-bench-")
    specs = server_specs(bindir, scpu, tmp, ccpu)
    pkt_cli = os.path.join(tmp, "pkt-cli.conf")
    if only:
        specs = [s for s in specs if s[0] in only]
    testbed("down")
    testbed("up")
    try:
        mac = sh("ip", "netns", "exec", "kaon-srv", "cat",
                 "/sys/class/net/veth-srv/address").stdout.strip()
        total = reps * len(specs) * len(scenarios)
        n = 0
        for rep in range(reps):
            for name, client, path, start in specs:
                proc = None
                try:
                    proc = start()
                except RuntimeError as e:
                    log("  %s: %s" % (name, e))
                for sname, mode, conns, size in scenarios:
                    n += 1
                    if proc and path == "memif" and server_died(proc):
                        # DPDK 22.11's memif PMD can crash a polling server
                        # when its peer closes (docs/design.md): say so, and
                        # give the next client a new server.
                        log("  %s: exited %d when the last client closed; restarted" %
                            (name, proc.proc.returncode))
                        proc = None
                        try:
                            proc = start()
                        except RuntimeError as e:
                            log("  %s: %s" % (name, e))
                    if proc is None:
                        r = {"requests_per_sec": 0.0, "exit": 1, "stderr": "no server"}
                    elif client.startswith("l2ping"):
                        if mode != "pingpong":
                            continue
                        if client == "l2ping":
                            r = l2ping(bindir, ccpu, conns, duration, mac)
                        elif client == "l2ping-xdp":
                            r = l2ping_dpdk(bindir, os.path.join(ROOT, "conf",
                                                                 "testbed-client.conf"),
                                            "kaon-cli", conns, duration, mac)
                        elif client == "l2ping-pkt":
                            r = l2ping_dpdk(bindir, pkt_cli, "kaon-cli", conns, duration, mac)
                        else:
                            r = l2ping_dpdk(bindir, os.path.join(ROOT, "conf",
                                                                 "memif-client.conf"),
                                            None, conns, duration, None)
                    elif client == "user-xdp":
                        r = kaon_bench(bindir, ccpu, mode, conns, size, duration, warmup,
                                       "user", os.path.join(ROOT, "conf",
                                                            "testbed-client.conf"))
                    elif client == "user-memif":
                        r = kaon_bench(bindir, ccpu, mode, conns, size, duration, warmup,
                                       "user", os.path.join(ROOT, "conf",
                                                            "memif-client.conf"), ns=None)
                    else:
                        r = kaon_bench(bindir, ccpu, mode, conns, size, duration, warmup)
                    r.update(server=name, client=client, path=path, scenario=sname,
                             mode=mode, conns=conns, size=size, rep=rep)
                    records.append(r)
                    status = "ok" if r["exit"] == 0 else "FAILED (exit %d)" % r["exit"]
                    log("  [%3d/%d] %-13s %-16s %10.0f req/s  %s" %
                        (n, total, sname, name, r["requests_per_sec"], status))
                    if r["exit"] and r.get("stderr"):
                        log("          " + r["stderr"].splitlines()[-1])
                if proc:
                    proc.stop()
    finally:
        testbed("down")
    return records


def summarize(records, scenarios, log=print):
    """Median/min/max per (scenario, server), ratios to ref-epoll and to raw-l2."""
    rows = []
    names = []
    for r in records:
        if r["server"] not in names:
            names.append(r["server"])
    hdr = "%-13s %-16s %-24s %21s %7s %7s %8s %8s" % (
        "scenario", "server", "path", "req/s med (min-max)", "x ref", "% raw", "p50 us",
        "p99 us")
    log(hdr)
    log("-" * len(hdr))
    for sname, mode, conns, size in scenarios:
        meds = {}
        for name in names:
            rs = [r for r in records if r["scenario"] == sname and r["server"] == name]
            if rs:
                meds[name] = statistics.median(r["requests_per_sec"] for r in rs)
        for name in names:
            rs = [r for r in records if r["scenario"] == sname and r["server"] == name]
            if not rs:
                continue
            rps = [r["requests_per_sec"] for r in rs]
            ok = [r for r in rs if r["exit"] == 0] or rs
            med = meds[name]
            ref = meds.get("ref-epoll")
            ceiling = CEILING.get(name)
            raw = meds.get(ceiling) if ceiling else None
            row = {
                "server": name, "client": rs[0]["client"], "path": rs[0]["path"],
                "scenario": sname, "mode": mode, "conns": conns, "size": size,
                "requests_per_sec": med, "rps_min": min(rps), "rps_max": max(rps),
                "gbps": statistics.median(r.get("gbps", 0.0) for r in ok),
                "p50_us": statistics.median(r.get("p50_us", 0.0) for r in ok),
                "p99_us": statistics.median(r.get("p99_us", 0.0) for r in ok),
                "ratio_to_ref": med / ref if ref else 0.0,
                "share_of_raw": med / raw if raw else 0.0,
                "ceiling": ceiling if raw else None,
                "failed": sum(1 for r in rs if r["exit"] != 0),
            }
            rows.append(row)
            share = "%6.0f%%" % (100 * row["share_of_raw"]) if raw else "      -"
            log("%-13s %-16s %-24s %9.0f (%5.0fk-%5.0fk) %7.2f %s %8.1f %8.1f%s" % (
                sname, name, row["path"], med, min(rps) / 1e3, max(rps) / 1e3,
                row["ratio_to_ref"], share, row["p50_us"], row["p99_us"],
                "  (%d failed)" % row["failed"] if row["failed"] else ""))
    return rows
