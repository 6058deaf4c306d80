#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""WAN scenarios through the testbed's impairment wire (issue 11, Deliver 5).

`bench/run wan [options]`, or on its own (root; it takes the testbed lock
itself, do not wrap it in flock):

  bench/wan.py [--build build] [--seconds 60] [--only NAME,...] [--out FILE]
               [--stream] [--kaon-cc cubic|newreno]

Per scenario the testbed comes up with `--wire SPEC` (kaon-wire between
kaon-cli and kaon-srv, both directions impaired alike) and these rows run,
every sender in kaon-cli, every receiver the Linux kernel in kaon-srv:

  linux-bulk-1, linux-bulk-8
      the Linux kernel (CUBIC) sends for --seconds on 1 and 8 connections
      to a Linux sink (bench/wire_bulk.py sink); goodput at the sink,
      content checked by sha256 per flow, retransmitted segments from the
      sender namespace's nstat (TcpRetransSegs)
  kaon-bulk-1, kaon-bulk-8
      the same from kaon's stack (kaon-bench --mode send --stack user, af_xdp
      on veth-cli, CUBIC, send buffer as large as Linux's tcp_wmem allows) to
      the same sink; the sink's hash checked against kaon-bench's pattern;
      retransmitted segments from kaon's counters (KAON_STATS: tcp_rexmt,
      with fast retransmits, RTOs, D-SACK undos, HyStart++ exits)
  linux-pp, kaon-pp
      64-byte ping-pong against kaon-echo --stack epoll (Linux) in
      kaon-srv, one connection, p50/p99 in microseconds
  linux-stream-1/-8, kaon-stream-1/-8 (--stream only)
      kaon-bench --mode stream through the same echo server

Goodput is what the sink received in the first --seconds after the first
connection (the senders keep different amounts queued at the end); the
sink still reads to the end and checks every byte. At the end, per
scenario: kaon / Linux for goodput and for retransmitted segments as a
share of the segments sent (1 and 8 flows).
"""
import argparse
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
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


def start_sink(flows, seconds):
    """The Linux sink in kaon-srv: the receiver of every bulk row."""
    sink = subprocess.Popen(ns("kaon-srv", ["python3", BULK, "sink", "--addr", SRV,
                                            "--port", "5001", "--flows", str(flows),
                                            "--timeout", str(seconds + 200),
                                            "--window", str(seconds)]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    return sink


def linux_bulk(flows, seconds):
    """Linux sender in kaon-cli, the Linux sink in kaon-srv."""
    sink = start_sink(flows, seconds)
    before = nstat("kaon-cli")
    send = sh(*ns("kaon-cli", ["python3", BULK, "send", "--addr", SRV, "--port", "5001",
                               "--flows", str(flows), "--seconds", str(seconds)]),
              check=False, timeout=seconds + 180)
    after = nstat("kaon-cli")
    out, err = sink.communicate(timeout=240)
    s, r = last_json(send.stdout) or {}, last_json(out) or {}
    ok = bool(s and r and s.get("sha256") == r.get("sha256") and not s.get("errors")
              and not r.get("errors"))
    return {"gbps": r.get("window_gbps", 0.0), "bytes": r.get("bytes", 0), "ok": ok,
            "gbps_all": r.get("gbps", 0.0), "seconds": r.get("seconds"),
            "retrans_segs": after.get("TcpRetransSegs", 0) - before.get("TcpRetransSegs", 0),
            "out_segs": after.get("TcpOutSegs", 0) - before.get("TcpOutSegs", 0),
            "errors": (s.get("errors") or []) + (r.get("errors") or []) +
                      ([err.strip()[-200:]] if sink.returncode else [])}


# kaon-bench's pattern (tools/kaon-bench.c fill_random, seed 7, prime period):
# --mode send writes it from offset 0 on every connection.
PATTERN_PERIOD = 65521
_pattern = None


def kaon_pattern():
    global _pattern
    if _pattern is None:
        m = (1 << 64) - 1
        x = (7 * 0x9E3779B97F4A7C15 + 1) & m
        out = bytearray(PATTERN_PERIOD)
        for i in range(PATTERN_PERIOD):
            x ^= (x << 13) & m
            x ^= x >> 7
            x ^= (x << 17) & m
            out[i] = (x >> 24) & 0xff
        _pattern = bytes(out) * 512  # 32 MiB, whole periods
    return _pattern


def kaon_stream_sha256(n):
    """sha256 of the first @n bytes of kaon-bench's pattern stream."""
    block, h = kaon_pattern(), hashlib.sha256()
    view = memoryview(block)
    while n >= len(block):
        h.update(view)
        n -= len(block)
    h.update(view[:n])
    return h.hexdigest()


def kaon_sndbuf(spec):
    """kaon has no send-buffer autotuning: a buffer as large as Linux's
    tcp_wmem lets it grow (32 MiB) on lossless paths; on lossy ones, where
    both stacks move a few Mb/s, 1 MiB, or the data written before the end
    would take minutes to drain (Linux keeps about 2 x cwnd queued)."""
    return 1 << 20 if "loss=" in spec else 32 << 20


def kaon_conf(path, cc="cubic", sndbuf=32 << 20):
    """The testbed client's configuration, with send buffer @sndbuf and a
    pool to hold what 8 such flows keep in flight."""
    with open(os.path.join(ROOT, "conf", "testbed-client.conf")) as f:
        text = f.read()
    text = re.sub(r"(?m)^memory = .*$", "memory = 512", text)
    text = re.sub(r"(?m)^file_prefix = .*$", "file_prefix = kaon-wan-cli", text)
    text = text.replace("[dpdk]\n", "[dpdk]\nnb_mbufs = 65535\n", 1)
    text = text.replace("[tcp]\n", "[tcp]\nsndbuf = %d\nrcvbuf = 4194304\n"
                        "congestion = %s\n" % (sndbuf, cc), 1)
    with open(path, "w") as f:
        f.write(text)
    return path


def kaon_counters(text):
    """KAON_STATS=1's lines "kaon: NAME VALUE" as a dict."""
    vals = {}
    for m in re.finditer(r"(?m)^kaon: (\w+) (\d+)$", text):
        vals[m.group(1)] = int(m.group(2))
    return vals


KAON_COUNTERS = ("tcp_rexmt", "tcp_fast_rexmt", "tcp_rexmt_timeouts", "tcp_recoveries",
                 "tcp_sack_recoveries", "tcp_dsack_rx", "tcp_dsack_undos",
                 "tcp_hystart_css", "tcp_hystart_exits", "tcp_tx",
                 "tcp_rto_in_recovery", "tcp_rto_repeat", "tcp_rto_sb_kept",
                 "tcp_sack_reneged", "tcp_reo_waits", "tcp_reo_avoided", "tcp_sack_rescues",
                 "tcp_dsack_repeats", "tcp_dsack_rescues", "tcp_rexmt_lost")


def kaon_bulk(bindir, conf, flows, seconds):
    """kaon's stack sending from kaon-cli to the Linux sink in kaon-srv."""
    sink = start_sink(flows, seconds)
    argv = [os.path.join(bindir, "kaon-bench"), "--addr", SRV, "--port", "5001",
            "--conns", str(flows), "--size", "65536", "--mode", "send",
            "--duration", str(seconds), "--stack", "user", "--config", conf, "--json"]
    p = subprocess.run(["env", "KAON_STATS=1"] + ns("kaon-cli", argv), capture_output=True,
                       text=True, timeout=seconds + 240)
    out, err = sink.communicate(timeout=240)
    s, r = last_json(p.stdout) or {}, last_json(out) or {}
    errors = (r.get("errors") or []) + ([p.stderr.strip()[-300:]] if p.returncode else [])
    sent = s.get("sent") or []
    got = r.get("sha256") or {}
    ok = p.returncode == 0 and bool(s and r) and len(sent) == flows and not errors
    for i, n in enumerate(sent):
        if got.get(str(i)) != kaon_stream_sha256(n):
            ok = False
            errors.append("flow %d: the sink's sha256 is not that of the %d bytes sent"
                          % (i, n))
    if r.get("bytes") != sum(sent):
        ok = False
        errors.append("sink got %s bytes, kaon sent %d" % (r.get("bytes"), sum(sent)))
    c = kaon_counters(p.stderr)
    res = {"gbps": r.get("window_gbps", 0.0), "bytes": r.get("bytes", 0), "ok": ok,
           "gbps_all": r.get("gbps", 0.0), "seconds": r.get("seconds"),
           "retrans_segs": c.get("tcp_rexmt", 0), "out_segs": c.get("tcp_tx", 0),
           "kaon": {k: c.get(k, 0) for k in KAON_COUNTERS}, "errors": errors}
    return res


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


def scenario(bindir, conf, name, spec, seconds, log, stream=False):
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
        k = res.get("kaon")
        log("%-16s %-14s %7.3f Gb/s  %s%s%s%s" % (
            name, kind, res.get("gbps") or 0.0,
            "ok" if res.get("ok") else "FAILED",
            "" if res.get("p50_us") is None else
            "  p50 %.0f us p99 %.0f us" % (res["p50_us"], res["p99_us"] or 0),
            "" if res.get("retrans_segs") is None else
            "  rexmt %d segs" % res["retrans_segs"],
            "" if not k else "  (fast %d, rto %d [in recovery %d, repeated %d], "
            "dsack %d, undos %d, hystart exits %d)" % (
                k["tcp_fast_rexmt"], k["tcp_rexmt_timeouts"], k["tcp_rto_in_recovery"],
                k["tcp_rto_repeat"], k["tcp_dsack_rx"], k["tcp_dsack_undos"],
                k["tcp_hystart_exits"])))
        if not res.get("ok") and res.get("errors"):
            log("    " + "; ".join(str(e) for e in res["errors"])[:400])

    for flows in (1, 8):
        row("linux-bulk-%d" % flows, linux_bulk(flows, seconds))
        row("kaon-bulk-%d" % flows, kaon_bulk(bindir, conf, flows, seconds))
    echo = echo_server(bindir)
    try:
        for stack, who in (("epoll", "linux"), ("user", "kaon")):
            if stream:
                for conns in (1, 8):
                    row("%s-stream-%d" % (who, conns),
                        kaon_bench(bindir, stack, "stream", conns, 65536, seconds))
            row("%s-pp" % who, kaon_bench(bindir, stack, "pingpong", 1, 64, min(seconds, 20)))
    finally:
        stop(echo)
    return rows


ECHO_SPEC = "delay=0ms loss=1%"


def user_echo_conf(path):
    """conf/testbed.conf with a file prefix of its own (kaon-echo on kaon's
    stack in kaon-srv, af_xdp on veth-srv)."""
    with open(os.path.join(ROOT, "conf", "testbed.conf")) as f:
        text = f.read()
    text = re.sub(r"(?m)^file_prefix = .*$", "file_prefix = kaon-wan-echo", text)
    with open(path, "w") as f:
        f.write(text)
    return path


def echo_once(bindir, conf, who, nbytes):
    """One 32 MiB echo (the issue's first paragraph) from a kernel client in
    kaon-cli through kaon-echo in kaon-srv: on the kernel's TCP (CUBIC) or
    on kaon's stack. Both directions lose 1%."""
    if who == "linux":
        sh(TESTBED, "addr", "on")
        argv = [os.path.join(bindir, "kaon-echo"), "--stack", "epoll", "--addr", SRV,
                "--port", "7"]
    else:
        sh(TESTBED, "addr", "off")
        argv = [os.path.join(bindir, "kaon-echo"), "--stack", "user", "--config", conf,
                "--port", "7", "--cpu", "1"]
    p = subprocess.Popen(["env", "KAON_STATS=1"] + ns("kaon-srv", argv),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        log.append(line)
        if "listening on" in line or not line:
            break
    if who == "linux":
        # "listening on" came once before the kernel had the listener
        # (one connection refused in 10 runs): wait for the socket itself
        while time.monotonic() < deadline and "LISTEN" not in sh(
                *ns("kaon-srv", ["ss", "-ltn", "sport = :7"]), check=False).stdout:
            time.sleep(0.05)
    before = nstat("kaon-srv")
    c = sh(*ns("kaon-cli", ["python3", BULK, "echo", "--addr", SRV, "--port", "7",
                            "--bytes", str(nbytes), "--flows", "1", "--timeout", "200"]),
           check=False, timeout=260)
    after = nstat("kaon-srv")
    p.send_signal(signal.SIGINT)
    try:
        rest = p.communicate(timeout=15)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        rest = p.communicate()[0]
    out = "".join(log) + (rest or "")
    r = last_json(c.stdout) or {}
    res = {"row": "%s-echo" % who, "gbps": r.get("gbps", 0.0), "seconds": r.get("seconds"),
           "ok": bool(r.get("ok")), "errors": r.get("errors") or []}
    if who == "linux":
        res["retrans_segs"] = after.get("TcpRetransSegs", 0) - before.get("TcpRetransSegs", 0)
    else:
        k = kaon_counters(out)
        res["retrans_segs"] = k.get("tcp_rexmt", 0)
        res["kaon"] = {n: v for n, v in k.items() if v and n.startswith("tcp_")}
    return res


def echo_rows(bindir, repeats, nbytes, log):
    """--echo: the issue's 1%-loss echo, kernel and kaon alternating."""
    sh(TESTBED, "down", check=False)
    sh(TESTBED, "up", "--srv-addr", "on", "--wire", ECHO_SPEC)
    for n in ("kaon-cli", "kaon-srv"):
        sh(*ns(n, ["sysctl", "-qw"] + SYSCTLS + ["net.ipv4.tcp_congestion_control=cubic"]))
    tmp = tempfile.mkdtemp(prefix="kaon-wan-")
    conf = user_echo_conf(os.path.join(tmp, "server.conf"))
    rows, ratios = [], []
    try:
        for i in range(repeats):
            pair = {}
            for who in ("linux", "kaon"):
                r = echo_once(bindir, conf, who, nbytes)
                r.update(scenario="echo-1%", spec=ECHO_SPEC, rep=i)
                rows.append(r)
                pair[who] = r
                log("echo %d %-6s %7.3f Gb/s %s rexmt %s %s" % (
                    i, who, r["gbps"], "ok" if r["ok"] else "FAILED " + str(r["errors"]),
                    r.get("retrans_segs"), json.dumps(r.get("kaon", {}), sort_keys=True)))
            if pair["linux"]["gbps"]:
                ratios.append(pair["kaon"]["gbps"] / pair["linux"]["gbps"])
    finally:
        os.unlink(conf)
        os.rmdir(tmp)
    if ratios:
        s = sorted(ratios)
        log("echo kaon/linux: median %.2f (%.2f-%.2f) over %d" % (
            s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2,
            s[0], s[-1], len(s)))
    return rows


def rtx_rate(r):
    """retransmitted segments per segment sent"""
    return r["retrans_segs"] / r["out_segs"] if r.get("out_segs") else 0.0


def summary(rows, log):
    """kaon / Linux per scenario: goodput over the same --seconds at the
    sink, retransmitted segments, and their share of the segments sent (the
    senders send different amounts)."""
    by = {(r["scenario"], r["row"]): r for r in rows}
    log("")
    log("%-16s %5s %10s %10s %6s %9s %9s %8s %8s %6s" % (
        "scenario", "flows", "linux Gb/s", "kaon Gb/s", "ratio", "linux rtx", "kaon rtx",
        "linux %", "kaon %", "ratio"))
    for name, _ in SCENARIOS:
        for flows in (1, 8):
            lx, kn = by.get((name, "linux-bulk-%d" % flows)), by.get((name, "kaon-bulk-%d" % flows))
            if not lx or not kn:
                continue
            g = kn["gbps"] / lx["gbps"] if lx.get("gbps") else float("nan")
            lr, kr = rtx_rate(lx), rtx_rate(kn)
            x = kr / lr if lr else (float("nan") if kr else 1.0)
            log("%-16s %5d %10.4f %10.4f %6.2f %9d %9d %8.3f %8.3f %6.2f" % (
                name, flows, lx["gbps"], kn["gbps"], g, lx["retrans_segs"],
                kn["retrans_segs"], 100 * lr, 100 * kr, x))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--only", default="", help="scenario names, comma-separated")
    p.add_argument("--out", default="", help="JSON lines of every row")
    p.add_argument("--stream", action="store_true", help="the echo stream rows too")
    p.add_argument("--kaon-cc", default="cubic", choices=["cubic", "newreno"],
                   help="kaon's [tcp] congestion for its rows")
    p.add_argument("--echo", type=int, default=0, metavar="N",
                   help="only the issue's 1%%-loss echo (32 MiB, 0 ms), N pairs")
    p.add_argument("--echo-bytes", type=int, default=32 << 20)
    a = p.parse_args(argv)
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
    tmp = tempfile.mkdtemp(prefix="kaon-wan-")
    conf = os.path.join(tmp, "client.conf")
    try:
        if a.echo:
            rows = echo_rows(bindir, a.echo, a.echo_bytes, print)
        for name, spec in ([] if a.echo else SCENARIOS):
            if only and name not in only:
                continue
            kaon_conf(conf, a.kaon_cc, kaon_sndbuf(spec))
            rows += scenario(bindir, conf, name, spec, a.seconds, print, a.stream)
    finally:
        sh(TESTBED, "down", check=False)
        if os.path.exists(conf):
            os.unlink(conf)
        os.rmdir(tmp)
    summary(rows, print)
    if a.out:
        with open(a.out, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
