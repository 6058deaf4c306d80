#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""WAN scenarios through the testbed's impairment wire (issue 11, Deliver 5).

The first part of `bench/run wan`, runnable on its own (root, under the
testbed lock, which it takes):

  bench/wan.py [--build build] [--seconds 60] [--only NAME,...] [--out FILE]

Per scenario the testbed comes up with `--wire SPEC` (kaon-wire between
kaon-cli and kaon-srv, both directions impaired alike) and these rows run:

  linux-bulk-1, linux-bulk-8
      the Linux kernel (CUBIC, in kaon-srv) sends for --seconds on 1 and 8
      connections to a Linux sink in kaon-cli (bench/wire_bulk.py);
      goodput at the sink, content checked by sha256 per flow,
      retransmitted segments from the sender namespace's nstat
  linux-stream-1/-8, kaon-stream-1/-8
      kaon-bench --mode stream from kaon-cli against kaon-echo --stack epoll
      in kaon-srv (the same Linux receiver and echoer for both): the client
      on the Linux stack, then on kaon's (af_xdp on veth-cli); goodput of
      the bytes echoed back, content checked by kaon-bench
  linux-pp, kaon-pp
      64-byte ping-pong, one connection, p50/p99 in microseconds

Not yet: a one-way bulk sender on kaon's stack (the kaon rows are echo
streams, so the Linux echoer's CUBIC shapes the way back), kaon's own
retransmission counters, and the hookup as `bench/run wan`.
"""
import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTBED = os.path.join(ROOT, "scripts", "testbed.sh")
BULK = os.path.join(ROOT, "bench", "wire_bulk.py")
LOCK = "/run/lock/kaon-testbed.lock"
SRV, CLI = "198.18.0.2", "198.18.0.1"

# (name, wire spec). Queue of the 200 Mbit case: one BDP, 200 Mb/s x 40 ms.
SCENARIOS = [
    ("0ms", "delay=0ms"),
    ("20ms", "delay=20ms"),
    ("20ms-1%", "delay=20ms loss=1%"),
    ("50ms-2%-reorder", "delay=50ms loss=2% reorder=1% reorder_delay=2ms"),
    ("20ms-200mbit", "delay=20ms rate=200mbit queue=1000000"),
]

# Windows large enough for 1 Gb/s over 100 ms of round trip (per namespace).
SYSCTLS = ["net.ipv4.tcp_rmem=4096 131072 33554432",
           "net.ipv4.tcp_wmem=4096 65536 33554432"]


def sh(*argv, check=True, timeout=None):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True,
                          timeout=timeout)


def ns(name, argv):
    return ["ip", "netns", "exec", name] + argv


def nstat(name):
    """The namespace's TCP counters (absolute values)."""
    out = sh(*ns(name, ["nstat", "-az", "TcpRetransSegs", "TcpOutSegs"]), check=False).stdout
    vals = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[1].isdigit():
            vals[f[0]] = int(f[1])
    return vals


def wire_stats():
    p = sh(TESTBED, "wire", "stats", check=False)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}


def delta(after, before):
    """after - before, for the counters of two wire_stats() readings."""
    if isinstance(after, dict):
        return {k: delta(v, (before or {}).get(k)) for k, v in after.items()
                if k not in ("spec", "seed", "uptime_s", "held", "held_max",
                             "queue_max_bytes")}
    if isinstance(after, int) and isinstance(before, int):
        return after - before
    return after


def last_json(text):
    res = None
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                res = json.loads(line)
            except ValueError:
                pass
    return res


def linux_bulk(flows, seconds):
    """Linux sender in kaon-srv, Linux sink in kaon-cli."""
    sink = subprocess.Popen(ns("kaon-cli", ["python3", BULK, "sink", "--addr", CLI,
                                            "--port", "5001", "--flows", str(flows),
                                            "--timeout", str(seconds + 120)]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    before = nstat("kaon-srv")
    send = sh(*ns("kaon-srv", ["python3", BULK, "send", "--addr", CLI, "--port", "5001",
                               "--flows", str(flows), "--seconds", str(seconds)]),
              check=False, timeout=seconds + 180)
    after = nstat("kaon-srv")
    out, err = sink.communicate(timeout=180)
    s, r = last_json(send.stdout) or {}, last_json(out) or {}
    ok = bool(s and r and s.get("sha256") == r.get("sha256") and not s.get("errors")
              and not r.get("errors"))
    return {"gbps": r.get("gbps", 0.0), "bytes": r.get("bytes", 0), "ok": ok,
            "retrans_segs": after.get("TcpRetransSegs", 0) - before.get("TcpRetransSegs", 0),
            "out_segs": after.get("TcpOutSegs", 0) - before.get("TcpOutSegs", 0),
            "errors": (s.get("errors") or []) + (r.get("errors") or []) +
                      ([err.strip()[-200:]] if sink.returncode else [])}


def kaon_bench(bindir, stack, mode, conns, size, seconds):
    argv = [os.path.join(bindir, "kaon-bench"), "--addr", SRV, "--port", "7",
            "--conns", str(conns), "--size", str(size), "--mode", mode,
            "--duration", str(seconds), "--warmup", "2", "--stack", stack, "--json"]
    if stack == "user":
        argv += ["--config", os.path.join(ROOT, "conf", "testbed-client.conf")]
    before = nstat("kaon-cli")
    p = sh(*ns("kaon-cli", argv), check=False, timeout=seconds + 120)
    after = nstat("kaon-cli")
    r = last_json(p.stdout) or {}
    res = {"gbps": r.get("gbps", 0.0), "p50_us": r.get("p50_us"), "p99_us": r.get("p99_us"),
           "ok": p.returncode == 0 and bool(r), "errors": [p.stderr.strip()[-300:]]
           if p.returncode else []}
    if stack != "user":
        res["retrans_segs"] = after.get("TcpRetransSegs", 0) - before.get("TcpRetransSegs", 0)
    return res


def echo_server(bindir):
    p = subprocess.Popen(ns("kaon-srv", [os.path.join(bindir, "kaon-echo"), "--stack", "epoll",
                                         "--addr", SRV, "--port", "7"]),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if "listening on" in line:
            return p
        if not line:
            break
    p.kill()
    raise RuntimeError("kaon-echo did not start")


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def allow_cubic(log):
    """CUBIC is built in but a namespace may only pick what the host's
    tcp_allowed_congestion_control lists: add it (nothing else changes)."""
    path = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
    with open(path) as f:
        allowed = f.read().split()
    if "cubic" not in allowed:
        with open(path, "w") as f:
            f.write(" ".join(allowed + ["cubic"]))
        log("added cubic to %s" % path)


def scenario(bindir, name, spec, seconds, log):
    sh(TESTBED, "down", check=False)
    sh(TESTBED, "up", "--srv-addr", "on", "--wire", spec)
    for n in ("kaon-cli", "kaon-srv"):
        sh(*ns(n, ["sysctl", "-qw"] + SYSCTLS + ["net.ipv4.tcp_congestion_control=cubic"]))
    rows = []
    last = [wire_stats()]

    def row(kind, res):
        res.update(scenario=name, spec=spec, row=kind)
        now = wire_stats()
        res["wire"] = delta(now, last[0])  # what the wire did during this row
        last[0] = now
        rows.append(res)
        log("%-16s %-14s %7.3f Gb/s  %s%s" % (
            name, kind, res.get("gbps") or 0.0,
            "ok" if res.get("ok") else "FAILED",
            "" if res.get("p50_us") is None else
            "  p50 %.0f us p99 %.0f us" % (res["p50_us"], res["p99_us"] or 0)))

    for flows in (1, 8):
        row("linux-bulk-%d" % flows, linux_bulk(flows, seconds))
    echo = echo_server(bindir)
    try:
        for stack, who in (("epoll", "linux"), ("user", "kaon")):
            for conns in (1, 8):
                row("%s-stream-%d" % (who, conns),
                    kaon_bench(bindir, stack, "stream", conns, 65536, seconds))
            row("%s-pp" % who, kaon_bench(bindir, stack, "pingpong", 1, 64, min(seconds, 20)))
    finally:
        stop(echo)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--only", default="", help="scenario names, comma-separated")
    p.add_argument("--out", default="", help="JSON lines of every row")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("wan.py: needs root (network namespaces)", file=sys.stderr)
        return 77
    bindir = os.path.join(a.build, "bin")
    os.environ.setdefault("KAON_WIRE", os.path.join(bindir, "kaon-wire"))
    only = set(filter(None, a.only.split(",")))
    lock = open(LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    rows = []
    allow_cubic(print)
    try:
        for name, spec in SCENARIOS:
            if only and name not in only:
                continue
            rows += scenario(bindir, name, spec, a.seconds, print)
    finally:
        sh(TESTBED, "down", check=False)
    if a.out:
        with open(a.out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
