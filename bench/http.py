# SPDX-License-Identifier: MIT
"""HTTP on the veth testbed: wrk against nginx and kaon-httpd (issue 13).

`bench/run http` (or python3 bench/http.py). The client is wrk from Debian,
one thread, in namespace kaon-cli pinned to the client CPU, through the
kernel's TCP. The servers run in kaon-srv pinned to the server CPU:
  nginx          Debian's nginx on the kernel: one worker on the server CPU,
                 access_log off, keep-alive, sendfile on (config in a temp dir)
  kaon-epoll     kaon-httpd --stack epoll
  kaon-uring     kaon-httpd --stack uring (file bodies by sendfile(2))
  kaon-uring-splice  the same with KAON_URING_SPLICE=1 (bodies by ring splices)
  kaon-user-xdp-nosums  kaon-user-xdp with --no-sum-tables (its stack sums
                 every payload byte itself)
  kaon-epoll-nolowat, kaon-uring-nolowat  kaon-epoll / kaon-uring with
                 --notsent-lowat 0 (no TCP_NOTSENT_LOWAT on its sockets)
  kaon-user-xdp-4m  kaon-user-xdp with [tcp] sndbuf = 4 MiB, Linux's
                 tcp_wmem maximum, up to which nginx's sockets grow (kaon's
                 default is 256 KiB); these five run only when --servers
                 names them
  kaon-user-xdp  kaon-httpd on kaon's stack, DPDK af_xdp (conf/testbed.conf)
  kaon-user-bif  the same with flow bifurcation on: kaon's XDP program hands
                 kaon port 80, the kernel keeps 198.18.0.2 (own file_prefix)
With --base BUILD, NAME@base is NAME run from that build's kaon-httpd: a
before/after pair side by side in one run (say, main's build as the base).
All serve the same files (64 B, 4 KiB, 64 KiB, 1 MiB of random bytes, made in
a temp root) to 1, 64 and 256 connections. Repetitions are interleaved: rep 1
of every server, then rep 2, ... Each server start is checked with curl (every
file fetched and compared byte for byte) before its runs and again after them.
A wrk run that reports any socket error or non-2xx/3xx answer, or exits
non-zero, is FAILED and left out of the medians; its row says so.

wrk prints one JSON line through a Lua done() hook (no parsing of its human
output for figures; its error lines are still checked as a second opinion).
The whole run holds /run/lock/kaon-testbed.lock. Results: bench/results/
http-STAMP.json and http-latest.json.
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
import testbed  # noqa: E402  (bench/testbed.py: the lock and scripts/testbed.sh)

SRV_ADDR = testbed.SRV_ADDR
PORT = 80
CLK_TCK = os.sysconf("SC_CLK_TCK")

FILES = [("64.bin", 64), ("4k.bin", 4096), ("64k.bin", 65536), ("1m.bin", 1 << 20)]
CONNS = [1, 64, 256]
SERVERS = ["nginx", "kaon-epoll", "kaon-uring", "kaon-user-xdp", "kaon-user-bif"]
EXTRA = ["kaon-uring-splice", "kaon-user-xdp-nosums", "kaon-user-xdp-4m", "kaon-epoll-nolowat",
         "kaon-uring-nolowat"]  # known, run only when --servers names them
PATHS = {"nginx": "veth kernel", "kaon-epoll": "veth kernel", "kaon-uring": "veth kernel",
         "kaon-uring-splice": "veth kernel", "kaon-user-xdp-nosums": "veth af_xdp",
         "kaon-user-xdp-4m": "veth af_xdp", "kaon-epoll-nolowat": "veth kernel",
         "kaon-uring-nolowat": "veth kernel",
         "kaon-user-xdp": "veth af_xdp", "kaon-user-bif": "veth af_xdp bifurcation"}

# wrk's own timeout for one request (its default, said out loud): an answer
# slower than this counts as an error, so a stall cannot hide in a median.
WRK_TIMEOUT_S = 2
# ...unless the row's own answers need longer at a fair share of a slow link:
# 256 connections of 1 MiB each wait for 256 MiB to pass, 16 s at 16 MiB/s
# (half the slowest rate any server showed here on a loaded machine, nginx
# included). A stall is still caught; the wait behind 255 other answers is
# not one.
FAIR_FLOOR_BPS = 16 << 20


def wrk_timeout(conns, size):
    """wrk --timeout (s) for a row of @p conns connections fetching @p size."""
    return max(WRK_TIMEOUT_S, -(-conns * size // FAIR_FLOOR_BPS))


WRK_LUA = r"""-- bench/http.py: one JSON line with the figures, printed after wrk's own.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\n{"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,' ..
    '"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,' ..
    '"status_errors":%.0f,"timeout_errors":%.0f,"p50_us":%.0f,"p90_us":%.0f,' ..
    '"p99_us":%.0f,"p999_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""

# tcp_nopush stays at nginx's default (off): with sendfile it costs a
# setsockopt pair per answer, about 10% of nginx's rate on 4 KiB files here.
NGINX_CONF = """# bench/http.py: nginx configured like a benchmark (issue 13)
worker_processes 1;
worker_cpu_affinity {mask};
worker_rlimit_nofile 65536;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 60;
  keepalive_requests 1000000000;
  open_file_cache max=64 inactive=60s;
  client_body_temp_path {tmp}/ng-body;
  proxy_temp_path {tmp}/ng-proxy;
  fastcgi_temp_path {tmp}/ng-fcgi;
  uwsgi_temp_path {tmp}/ng-uwsgi;
  scgi_temp_path {tmp}/ng-scgi;
  types {{ application/octet-stream bin; }}
  default_type application/octet-stream;
  server {{ listen {addr}:{port}; root {root}; }}
}}
"""

BIF_CONF = """[dpdk]
lcores = {cpu}
vdev = net_af_xdp0,iface=veth-srv,start_queue=0
memory = 256
no_huge = 1
file_prefix = kaon-bench-http-bif
[port0]
addr = {addr}
netmask = /24
[tcp]
time_wait = 200
[bifurcation]
mode = xdp
tcp_ports = {port}
"""


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def take_lock(log):
    """The testbed lock, for the whole run (testbed.testbed() reuses it)."""
    if testbed._lock_fd is not None:
        return
    import fcntl
    os.makedirs(os.path.dirname(testbed.TESTBED_LOCK), exist_ok=True)
    fd = open(testbed.TESTBED_LOCK, "w")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("bench/run http: waiting for %s (someone else uses the testbed)" %
            testbed.TESTBED_LOCK)
        t0 = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)
        log("bench/run http: got the lock after %.0f s" % (time.monotonic() - t0))
    testbed._lock_fd = fd


def tree_cpu(pid):
    """utime + stime (s) of a process, its threads and its descendants (nginx's
    worker is the master's child)."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError, IndexError):
            pass
    return total


class Server:
    """A server started in kaon-srv; its output goes to a file (a pipe nobody
    reads could fill up and stall it mid-run)."""

    def __init__(self, name, argv, log_path, ready=None, env=None):
        self.name, self.log_path = name, log_path
        e = dict(os.environ)
        e.update(env or {})
        self.logf = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=e)
        if ready:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if ready in self.output():
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            self.stop()
            raise RuntimeError("%s did not start: %s" % (name, self.output()[-400:].strip()))

    def output(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL after 15 s. @return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def make_files(root):
    os.makedirs(root)
    os.chmod(root, 0o755)
    for name, size in FILES:
        p = os.path.join(root, name)
        with open(p, "wb") as f:
            f.write(os.urandom(size))
        os.chmod(p, 0o644)


def verify(tmp, files, deadline_s=20.0):
    """curl in kaon-cli fetches every file; each must match byte for byte.
    Retries until deadline_s (a server may still be binding or resolving
    ARP). @return None when all match, else what went wrong."""
    root = os.path.join(tmp, "root")
    got = os.path.join(tmp, "got")
    end = time.monotonic() + deadline_s
    why = "not tried"
    while True:
        why = None
        for name, _ in files:
            if os.path.exists(got):
                os.unlink(got)
            p = subprocess.run(in_ns("kaon-cli", [
                "curl", "-sS", "--fail", "--max-time", "5", "-o", got,
                "http://%s:%d/%s" % (SRV_ADDR, PORT, name)]),
                capture_output=True, text=True)
            if p.returncode != 0:
                why = "curl %s: %s" % (name, p.stderr.strip()[-200:] or "exit %d" % p.returncode)
                break
            with open(os.path.join(root, name), "rb") as a, open(got, "rb") as b:
                if a.read() != b.read():
                    why = "curl %s: the body differs from the file" % name
                    break
        if why is None or time.monotonic() > end:
            return why
        time.sleep(0.2)


def wrk(tmp, ccpu, conns, name, duration, timeout=WRK_TIMEOUT_S):
    """One wrk run. @return a record: the JSON figures, exit, failed, why."""
    url = "http://%s:%d/%s" % (SRV_ADDR, PORT, name)
    argv = in_ns("kaon-cli", ["taskset", "-c", str(ccpu), "wrk", "-t1", "-c", str(conns),
                              "-d", "%ds" % duration, "--timeout", "%ds" % timeout,
                              "-s", os.path.join(tmp, "json.lua"), url])
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
        out, err, rc = p.stdout, p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, err, rc = (e.stdout or b"").decode(errors="replace"), "wrk hung", -1
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = None
    for line in out.splitlines():
        if line.startswith('{"duration_us"'):
            try:
                r = json.loads(line)
            except ValueError:
                pass
    why = []
    if r is None:
        r = {"requests": 0, "bytes": 0, "duration_us": 0, "p50_us": 0, "p99_us": 0}
        why.append("no figures from wrk")
    if rc != 0:
        why.append("wrk exit %d: %s" % (rc, err.strip()[-200:]))
    errs = {k: r.get(k + "_errors", 0) for k in ("connect", "read", "write", "timeout")}
    if any(errs.values()):
        why.append("socket errors " + ", ".join("%s %d" % (k, v) for k, v in errs.items() if v))
    if r.get("status_errors", 0):
        why.append("%d non-2xx/3xx answers" % r["status_errors"])
    # wrk's own words, a second opinion should the Lua hook ever disagree.
    for line in out.splitlines():
        s = line.strip()
        if (s.startswith("Socket errors") or s.startswith("Non-2xx")) and not any(
                w.startswith("socket") or "non-2xx" in w for w in why):
            why.append(s)
    if r["requests"] == 0 and not why:
        why.append("no request completed")
    secs = r["duration_us"] / 1e6 if r["duration_us"] else float(duration)
    r["requests_per_sec"] = r["requests"] / secs
    r["bytes_per_sec"] = r["bytes"] / secs
    cli = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    r["client_cpu_us_per_req"] = cli * 1e6 / r["requests"] if r["requests"] else 0.0
    r["exit"] = rc
    r["wrk_timeout_s"] = timeout
    r["failed"] = bool(why)
    r["why"] = "; ".join(why)
    return r


def server_specs(bindir, scpu, tmp, base=None, tag=""):
    """name -> a function that starts it (after setting the testbed's address);
    with @p base (a bin directory), NAME@base too for every kaon server."""
    specs = {}
    if base:
        for k, v in server_specs(base, scpu, tmp, tag="@base").items():
            if k != "nginx":
                specs[k + "@base"] = v
    httpd = os.path.join(bindir, "kaon-httpd")
    root = os.path.join(tmp, "root")
    mask = "1" + "0" * scpu  # nginx's worker_cpu_affinity: bit scpu
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(mask=mask, tmp=tmp, addr=SRV_ADDR, port=PORT, root=root))
    with open(os.path.join(tmp, "bif.conf"), "w") as f:
        f.write(BIF_CONF.format(cpu=scpu, addr=SRV_ADDR, port=PORT))
    xdp_conf = os.path.join(ROOT, "conf", "testbed.conf")
    if scpu != 1:  # conf/testbed.conf names lcore 1
        with open(xdp_conf) as f:
            text = f.read()
        xdp_conf = os.path.join(tmp, "xdp.conf")
        with open(xdp_conf, "w") as f:
            f.write("\n".join("lcores = %d" % scpu if l.startswith("lcores") else l
                              for l in text.splitlines()) + "\n")
    with open(xdp_conf) as f:
        text = f.read()
    assert "\n[tcp]\n" in text
    xdp_4m = os.path.join(tmp, "xdp-4m.conf")
    with open(xdp_4m, "w") as f:
        f.write(text.replace("\n[tcp]\n", "\n[tcp]\nsndbuf = %d\n" % (4 << 20)))
    xdp_env = {"KAON_XDP_PROG": os.path.join(os.path.dirname(bindir), "bpf", "kaon_xdp.o")}
    pin = ["taskset", "-c", str(scpu)]
    log = lambda n: os.path.join(tmp, n + ".log")

    def nginx():
        testbed.testbed("addr", "on")
        return Server("nginx", in_ns("kaon-srv", pin + [
            "nginx", "-e", os.path.join(tmp, "nginx-error.log"),
            "-c", os.path.join(tmp, "nginx.conf")]), log("nginx"))

    def kernel(stack, name=None, env=None, extra=()):
        name = (name or "kaon-" + stack) + tag
        def start():
            testbed.testbed("addr", "on")
            return Server(name, in_ns("kaon-srv", pin + [
                httpd, "--stack", stack, "--addr", SRV_ADDR, "--port", str(PORT),
                "--root", root, "--cpu", str(scpu)] + list(extra)), log(name),
                "listening on", env)
        return start

    def user(name, conf, addr_on, env=None, extra=()):
        def start():
            testbed.testbed("addr", "on" if addr_on else "off")
            return Server(name + tag, in_ns("kaon-srv", pin + [
                httpd, "--stack", "user", "--config", conf, "--port", str(PORT),
                "--root", root, "--cpu", str(scpu)] + list(extra)), log(name + tag),
                "listening on", env)
        return start

    specs.update({
        "nginx": nginx,
        "kaon-epoll": kernel("epoll"),
        "kaon-uring": kernel("uring"),
        "kaon-uring-splice": kernel("uring", "kaon-uring-splice", {"KAON_URING_SPLICE": "1"}),
        "kaon-epoll-nolowat": kernel("epoll", "kaon-epoll-nolowat", extra=["--notsent-lowat", "0"]),
        "kaon-uring-nolowat": kernel("uring", "kaon-uring-nolowat", extra=["--notsent-lowat", "0"]),
        "kaon-user-xdp": user("kaon-user-xdp", xdp_conf, False),
        "kaon-user-xdp-nosums": user("kaon-user-xdp-nosums", xdp_conf, False,
                                     extra=["--no-sum-tables"]),
        "kaon-user-xdp-4m": user("kaon-user-xdp-4m", xdp_4m, False),
        "kaon-user-bif": user("kaon-user-bif", os.path.join(tmp, "bif.conf"), True, xdp_env),
    })
    return specs


def run(bindir, servers, files, conns, reps, duration, scpu, ccpu, log=print, base=None):
    """Every server over every (file, connections), reps times, interleaved.
    Takes the testbed lock (kept until the process ends). @return records."""
    take_lock(log)
    tmp = tempfile.mkdtemp(prefix="kaon-http-bench-")
    os.chmod(tmp, 0o755)  # nginx's worker is not root
    records = []
    try:
        make_files(os.path.join(tmp, "root"))
        with open(os.path.join(tmp, "json.lua"), "w") as f:
            f.write(WRK_LUA)
        specs = server_specs(bindir, scpu, tmp, base)
        testbed.testbed("down")
        testbed.testbed("up")
        total = reps * len(servers) * len(files) * len(conns)
        n = 0
        for rep in range(reps):
            for name in servers:
                srv, why = None, None
                try:
                    srv = specs[name]()
                    why = verify(tmp, FILES)
                    if why:
                        why = "before the runs: " + why
                except RuntimeError as e:
                    why = str(e)
                first = len(records)
                for fname, size in files:
                    for c in conns:
                        n += 1
                        if why is None:
                            c0 = tree_cpu(srv.proc.pid)
                            r = wrk(tmp, ccpu, c, fname, duration, wrk_timeout(c, size))
                            c1 = tree_cpu(srv.proc.pid)
                            r["server_cpu_us_per_req"] = ((c1 - c0) * 1e6 / r["requests"]
                                                          if r["requests"] else 0.0)
                        else:
                            r = {"requests": 0, "requests_per_sec": 0.0, "bytes_per_sec": 0.0,
                                 "p50_us": 0, "p99_us": 0, "exit": -1, "failed": True,
                                 "why": why}
                        r.update(server=name, path=PATHS[name.split("@")[0]], file=fname, size=size,
                                 conns=c, rep=rep)
                        records.append(r)
                        log("  [%3d/%d] %-7s %3d conn  %-18s %10.0f req/s %9.1f MiB/s  %s" % (
                            n, total, fname, c, name, r["requests_per_sec"],
                            r["bytes_per_sec"] / 2**20,
                            "FAILED: " + r["why"] if r["failed"] else "ok"))
                if srv is not None:
                    after = verify(tmp, FILES, 5.0) if why is None else None
                    rc = srv.stop()
                    tail = [l for l in srv.output().splitlines() if "connections" in l]
                    if tail:
                        log("          %s: %s" % (name, tail[-1].strip()))
                    # nginx exits 0 on SIGTERM; kaon-httpd prints its counters and exits 0.
                    if rc != 0 and why is None:
                        after = (after + "; " if after else "") + "exit status %d" % rc
                    if after:
                        log("  %s FAILED after its runs: %s" % (name, after))
                        for r in records[first:]:
                            if not r["failed"]:
                                r["failed"] = True
                                r["why"] = "after the runs: " + after
    finally:
        try:
            testbed.testbed("down")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return records


def summarize(records, servers, files, conns, log=print):
    """Median/min/max of the runs that did not fail, per (file, conns,
    server); ratio to nginx's median in the same run."""
    rows = []
    hdr = "%-7s %5s %-18s %22s %7s %9s %8s %8s %7s %7s  %s" % (
        "file", "conns", "server", "req/s med (min-max)", "x nginx", "MiB/s", "p50 us",
        "p99 us", "cli us", "srv us", "status")
    log(hdr)
    log("-" * (len(hdr) + 10))
    for fname, size in files:
        for c in conns:
            ng = None
            for name in servers:
                rs = [r for r in records if r["file"] == fname and r["conns"] == c
                      and r["server"] == name]
                if not rs:
                    continue
                ok = [r for r in rs if not r["failed"]]

                def med(key):
                    v = [r[key] for r in ok if key in r]
                    return statistics.median(v) if v else 0.0
                rps = [r["requests_per_sec"] for r in ok] or [0.0]
                row = {
                    "server": name, "client": "wrk", "path": rs[0]["path"], "mode": "http-get",
                    "file": fname, "size": size, "conns": c, "runs": len(rs),
                    "failed": len(rs) - len(ok),
                    "why": sorted(set(r["why"] for r in rs if r["failed"])),
                    "requests_per_sec": med("requests_per_sec"), "rps_min": min(rps),
                    "rps_max": max(rps), "bytes_per_sec": med("bytes_per_sec"),
                    "p50_us": med("p50_us"), "p99_us": med("p99_us"),
                    "client_cpu_us_per_req": med("client_cpu_us_per_req"),
                    "server_cpu_us_per_req": med("server_cpu_us_per_req"),
                }
                row["gbps"] = row["bytes_per_sec"] * 8 / 1e9
                if name == "nginx" and not row["failed"]:
                    ng = row["requests_per_sec"]
                row["ratio_to_nginx"] = row["requests_per_sec"] / ng if ng else 0.0
                rows.append(row)
                status = "ok"
                if row["failed"]:
                    status = "FAILED %d/%d: %s" % (row["failed"], row["runs"], row["why"][0][:60])
                log("%-7s %5d %-18s %8.0f (%5.1fk-%5.1fk) %7s %9.1f %8.0f %8.0f %7.2f %7.2f  %s" % (
                    fname, c, name, row["requests_per_sec"], row["rps_min"] / 1e3,
                    row["rps_max"] / 1e3, "%.2f" % row["ratio_to_nginx"] if ng else "-",
                    row["bytes_per_sec"] / 2**20, row["p50_us"], row["p99_us"],
                    row["client_cpu_us_per_req"], row["server_cpu_us_per_req"], status))
    return rows


def write_json(out, stamp, meta, rows, records):
    os.makedirs(out, exist_ok=True)
    doc = dict(meta, when=stamp, summary=rows, runs=records)
    path = os.path.join(out, "http-%s.json" % stamp)
    for p in (path, os.path.join(out, "http-latest.json")):
        with open(p, "w") as f:
            json.dump(doc, f, indent=1)
    return path


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run http", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="build directory holding bin/kaon-httpd (default: build)")
    p.add_argument("--duration", type=int, default=2,
                   help="seconds per wrk run (whole seconds; default 2)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per row (default 3)")
    p.add_argument("--quick", action="store_true", help="one 1-second run per row")
    p.add_argument("--server-cpu", type=int, default=1)
    p.add_argument("--client-cpu", type=int, default=0)
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="comma list (default: %(default)s)")
    p.add_argument("--files", default=",".join(f for f, _ in FILES),
                   help="comma list (default: %(default)s)")
    p.add_argument("--conns", default=",".join(map(str, CONNS)),
                   help="comma list (default: %(default)s)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"),
                   help="directory for the JSON results")
    p.add_argument("--base", default=None,
                   help="a second build directory: NAME@base servers run its kaon-httpd")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan and the generated configs; touch nothing")
    a = p.parse_args(argv)
    if a.quick:
        a.duration, a.reps = 1, 1
    if a.duration < 1 or a.reps < 1:
        p.error("--duration and --reps must be at least 1")
    a.servers = [s for s in a.servers.split(",") if s]
    known = SERVERS + EXTRA
    bad = [s for s in a.servers if s not in known and not (
        a.base and s.endswith("@base") and s[:-5] in known[1:])]
    if bad:
        p.error("unknown server %s (have %s)" % (", ".join(bad), ", ".join(known)))
    a.files = [f for f in FILES if f[0] in a.files.split(",")]
    try:
        a.conns = [int(c) for c in a.conns.split(",") if c]
    except ValueError:
        p.error("--conns takes a comma list of numbers")
    if not a.files or not a.conns or not a.servers or min(a.conns) < 1:
        p.error("nothing to run")
    ncpu = os.cpu_count() or 1
    for c in (a.server_cpu, a.client_cpu):
        if c < 0 or c >= ncpu:
            p.error("CPU %d does not exist here (%d CPUs)" % (c, ncpu))
    return a


def estimate_s(a):
    runs = a.reps * len(a.servers) * len(a.files) * len(a.conns)
    # ~0.4 s per run for wrk's start and exit; ~2 s per server start and check.
    return runs * (a.duration + 0.4) + a.reps * len(a.servers) * 2 + 5


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    bindir = os.path.join(a.build, "bin")
    est = estimate_s(a)
    plan = ("bench/run http: %d servers x %d files x %d connection counts x %d reps of %d s "
            "(about %.0f min); server cpu %d, client (wrk -t1) cpu %d" % (
                len(a.servers), len(a.files), len(a.conns), a.reps, a.duration, est / 60,
                a.server_cpu, a.client_cpu))
    if a.dry_run:
        print(plan)
        tmp = tempfile.mkdtemp(prefix="kaon-http-dry-")
        try:
            server_specs(bindir, a.server_cpu, tmp)
            for n in ("nginx.conf", "bif.conf"):
                print("--- %s\n%s" % (n, open(os.path.join(tmp, n)).read()))
            print("--- json.lua\n" + WRK_LUA)
        finally:
            shutil.rmtree(tmp)
        return 0
    if os.geteuid() != 0:
        print("bench/run http: needs root (network namespaces, AF_XDP)", file=sys.stderr)
        return 77
    missing = [t for t in ("wrk", "nginx", "curl", "taskset", "ip") if not shutil.which(t)]
    for d in [bindir] + ([os.path.join(a.base, "bin")] if a.base else []):
        if not os.access(os.path.join(d, "kaon-httpd"), os.X_OK):
            missing.append(os.path.join(d, "kaon-httpd") + " (build first)")
    if missing:
        print("bench/run http: missing %s (scripts/deps.sh)" % ", ".join(missing),
              file=sys.stderr)
        return 2
    print(plan, flush=True)
    load0, t0 = os.getloadavg()[0], time.monotonic()
    recs = run(bindir, a.servers, a.files, a.conns, a.reps, a.duration, a.server_cpu,
               a.client_cpu, log=lambda m: print(m, flush=True),
               base=os.path.join(a.base, "bin") if a.base else None)
    load1 = os.getloadavg()[0]
    print()
    rows = summarize(recs, a.servers, a.files, a.conns)
    print("\ncli us / srv us: CPU time per request of wrk's process and of the server "
          "(kaon's stack polls: its CPU is the whole run).\nload average %.2f at start, "
          "%.2f at end (figures swing when other work shares the machine); %.1f min "
          "(waiting for the testbed lock included)" % (load0, load1, (time.monotonic() - t0) / 60))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = write_json(a.out, stamp, {
        "duration_s": a.duration, "reps": a.reps, "server_cpu": a.server_cpu,
        "client_cpu": a.client_cpu, "wrk_timeout_s": WRK_TIMEOUT_S,
        "wrk_timeout_fair_floor_bps": FAIR_FLOOR_BPS,
        "loadavg": [load0, load1]}, rows, recs)
    print("results: %s" % os.path.relpath(path, ROOT))
    failed = sum(r["failed"] for r in rows)
    if failed:
        print("bench/run http: %d row(s) FAILED" % sum(1 for r in rows if r["failed"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
