#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kaon-httpd as a program, on 127.0.0.1.

  test_httpd.py --bin kaon-httpd --stack epoll|uring files
      curl fetches files of 64 B, 4 KiB, 64 KiB and 1 MiB (GET, HEAD,
      HTTP/1.0, several on one connection) and the hashes must match.
  test_httpd.py --bin kaon-httpd --stack epoll|uring conform
      raw requests: pipelining split at every byte, smuggling shapes,
      obs-fold, oversized heads, Host, HTTP/1.0 keep-alive, path escapes,
      HEAD, If-Modified-Since, methods, versions, bodies, slow headers and
      idle connections, clients that reset mid-response, --fixed.

Exit 0 on success, 1 on a failure (it says which), 77 when a tool is missing.
Waits are bounded by generous deadlines; no result depends on how fast the
machine is.
"""
import argparse
import hashlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10.0  # any single answer; the server's own deadlines are shorter
IDLE, HEADER = 3, 2  # the server's --idle-timeout and --header-timeout
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    return cond


class Server:
    def __init__(self, binary, stack, args):
        self.p = subprocess.Popen([binary, "--stack", stack, "--port", "0"] + args,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("listening on "):
            err = self.p.stderr.read() if self.p.poll() is not None else ""
            self.p.kill()
            raise SystemExit("kaon-httpd did not start: %r %s" % (line, err))
        self.port = int(line.split()[2].rsplit(":", 1)[1])
        self.stack = line.strip()

    def sockets(self):
        """Sockets the server holds open (the listener is one)."""
        n, d = 0, "/proc/%d/fd" % self.p.pid
        for fd in os.listdir(d):
            try:
                n += os.readlink(os.path.join(d, fd)).startswith("socket:")
            except OSError:
                pass
        return n

    def stop(self):
        """SIGTERM; @return (exit status, the counters line)."""
        self.p.send_signal(signal.SIGTERM)
        try:
            out, err = self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            return -1, out + err
        return self.p.returncode, out + err


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Reader:
    """Responses off one connection, one at a time."""

    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            raise EOFError
        self.buf += d

    def response(self, head_only=False):
        """@return (status, {field: value}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        assert lines[0].startswith("HTTP/1.1 "), lines[0]
        fields = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        n = 0 if head_only or status == 304 else int(fields.get("content-length", 0))
        while len(self.buf) < n:
            self.fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, fields, body

    def closed(self):
        """Does the server close next, with nothing more to say?"""
        try:
            while True:
                d = self.s.recv(4096)
                if not d:
                    return not self.buf
                self.buf += d
        except (ConnectionResetError, socket.timeout):
            return False


def exchange(port, raw, head_only=False):
    """Send @p raw on a new connection; @return (status, fields, body, closed)."""
    s = connect(port)
    try:
        s.sendall(raw)
        r = Reader(s)
        st, f, b = r.response(head_only)
        return st, f, b, r.closed() if f.get("connection") == "close" else None
    finally:
        s.close()


def make_root(tmp):
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "dir"))
    os.makedirs(os.path.join(root, "site"))
    files = {}
    # 1 B to 8 MiB: 65537 and 8 MiB cross the small-file bound and the
    # io_uring splice pipe (256 KiB) and sendfile chunk (1 MiB) sizes.
    for name, size in (("f1.bin", 1), ("f64.bin", 64), ("f4k.bin", 4096), ("f64k.bin", 65536),
                       ("f64k1.bin", 65537), ("f1m.bin", 1 << 20), ("f100k.bin", 100000),
                       ("f8m.bin", 8 << 20)):
        data = os.urandom(size)
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        files[name] = data
    with open(os.path.join(root, "index.html"), "wb") as f:
        f.write(b"<h1>root</h1>\n")
    with open(os.path.join(root, "site", "index.html"), "wb") as f:
        f.write(b"<h1>site</h1>\n")
    with open(os.path.join(tmp, "secret.txt"), "wb") as f:
        f.write(b"secret\n")
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(root, "out"))
    os.symlink("../secret.txt", os.path.join(root, "out-rel"))
    os.symlink("f64.bin", os.path.join(root, "in"))
    os.mkfifo(os.path.join(root, "fifo"))
    return root, files


def suite_files(port, root, files):
    if not shutil.which("curl"):
        print("SKIP: curl is not installed (scripts/deps.sh installs it)")
        sys.exit(77)
    url = "http://127.0.0.1:%d/" % port
    tmp = os.path.dirname(root)
    for name, data in files.items():
        want = hashlib.sha256(data).hexdigest()
        for extra in ([], ["--http1.0"]):
            out = os.path.join(tmp, "got")
            r = subprocess.run(["curl", "-sS", "--fail", "-o", out] + extra + [url + name],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, "curl %s %s: %s" % (extra, name, r.stderr))
            if r.returncode == 0:
                with open(out, "rb") as f:
                    got = hashlib.sha256(f.read()).hexdigest()
                check(got == want, "curl %s %s: sha256 %s, want %s" % (extra, name, got, want))
        r = subprocess.run(["curl", "-sS", "--fail", "-I", url + name],
                           capture_output=True, text=True, timeout=60)
        check("content-length: %d" % len(data) in r.stdout.lower(),
              "curl -I %s: %r" % (name, r.stdout))
    # Every file on one connection (curl reuses it), in order, hashed.
    args = ["curl", "-sS", "--fail", "-w", "%{num_connects}\\n"]
    names = list(files)
    for i, name in enumerate(names):
        args += ["-o", os.path.join(tmp, "many%d" % i), url + name]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "curl many: %s" % r.stderr)
    check(r.stdout.split() == ["1"] + ["0"] * (len(names) - 1),
          "curl many: connections per transfer %r (keep-alive)" % r.stdout.split())
    for i, name in enumerate(names):
        with open(os.path.join(tmp, "many%d" % i), "rb") as f:
            check(f.read() == files[name], "curl many: %s differs" % name)
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{content_type}", url],
                       capture_output=True, text=True, timeout=60)
    check(r.stdout == "text/html; charset=utf-8", "index content type %r" % r.stdout)


def get(path, version="1.1", extra=""):
    host = "Host: t\r\n" if version == "1.1" else ""
    return ("GET %s HTTP/%s\r\n%s%s\r\n" % (path, version, host, extra)).encode()


def t_pipelined_splits(port, files):
    stream = (get("/f64.bin") + b"HEAD /f4k.bin HTTP/1.1\r\nHost: t\r\n\r\n" +
              b"\r\n" + get("/index.html") + get("/f4k.bin"))
    for k in range(1, len(stream)):
        s = connect(port)
        s.sendall(stream[:k])
        time.sleep(0.001)  # helps the two pieces arrive apart; passes either way
        s.sendall(stream[k:])
        r = Reader(s)
        got = [r.response(), r.response(head_only=True), r.response(), r.response()]
        s.close()
        ok = (got[0][0] == 200 and got[0][2] == files["f64.bin"] and got[1][0] == 200 and
              got[1][1]["content-length"] == "4096" and got[2][2] == b"<h1>root</h1>\n" and
              got[3][2] == files["f4k.bin"])
        if not check(ok, "pipelined stream split at byte %d: %r" % (k, [g[0] for g in got])):
            return
    # Many pipelined in one send: answered in order.
    s = connect(port)
    n = 200
    s.sendall(b"".join(get("/f64.bin" if i % 2 else "/index.html") for i in range(n)))
    r = Reader(s)
    for i in range(n):
        st, _, b = r.response()
        if not check(st == 200 and b == (files["f64.bin"] if i % 2 else b"<h1>root</h1>\n"),
                     "pipelined #%d" % i):
            break
    s.close()


def t_statuses(port):
    cases = [
        # (what, raw request, status, connection closed after)
        ("CL+TE smuggling", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, True),
        ("TE+CL on GET", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400, True),
        ("TE alone", b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         501, True),
        ("TE on 1.0", b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, True),
        ("two Content-Lengths", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
         b"Content-Length: 2\r\n\r\nab", 400, True),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, True),
        ("space before colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, True),
        ("bare LF", b"GET / HTTP/1.1\nHost: t\n\n", 400, True),
        ("missing Host on 1.1", b"GET / HTTP/1.1\r\n\r\n", 400, True),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, True),
        ("unknown method", b"BREW / HTTP/1.1\r\nHost: t\r\n\r\n", 501, True),
        ("POST", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405, True),
        ("DELETE", b"DELETE /f64.bin HTTP/1.1\r\nHost: t\r\n\r\n", 405, True),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, True),
        ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", 505, True),
        ("bad version", b"GET / HTTP/1.1x\r\nHost: t\r\n\r\n", 400, True),
        ("garbage", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, True),
        ("long request line", b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 431, True),
        ("big fields", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-Pad: " + b"b" * 9000 +
         b"\r\n\r\n", 431, True),
        ("many fields", b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * 101 + b"\r\n", 431, True),
        ("body too large", b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", 413, True),
        ("HTTP/1.0 without Host", b"GET / HTTP/1.0\r\n\r\n", 200, True),
        ("1.2 as 1.1", b"GET / HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n", 200, True),
        ("absolute-form", b"GET http://t/f64.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
         200, True),
        ("..", get("/../secret.txt"), 400, True),
        ("%2e%2e", get("/%2e%2e/secret.txt"), 400, True),
        ("%2e%2e%2f", get("/site/%2e%2e%2f%2e%2e%2fsecret.txt"), 400, True),
        ("%00", get("/f64.bin%00.html"), 400, True),
        ("bad escape", get("/f64%zz"), 400, True),
        ("symlink out (absolute)", get("/out"), 403, False),
        ("symlink out (relative)", get("/out-rel"), 403, False),
        ("FIFO", get("/fifo"), 403, False),
        ("directory without index", get("/dir/"), 403, False),
        ("missing file", get("/nothing"), 404, False),
    ]
    for what, raw, status, closes in cases:
        try:
            st, f, body, closed = exchange(port, raw)
        except (EOFError, ConnectionResetError, socket.timeout) as e:
            check(False, "%s: no answer (%r)" % (what, e))
            continue
        check(st == status, "%s: status %d, want %d" % (what, st, status))
        if closes:
            check(f.get("connection") == "close" and closed,
                  "%s: the connection must close after the answer" % what)
        else:
            check(f.get("connection") != "close", "%s: the connection should stay" % what)
        if status == 405:
            check(f.get("allow") == "GET, HEAD", "405 without Allow: %r" % f)


def t_files(port, files):
    st, f, b, _ = exchange(port, get("/in"))
    check(st == 200 and b == files["f64.bin"], "symlink inside the root: %d" % st)
    st, f, b, _ = exchange(port, get("/site/"))
    check(st == 200 and b == b"<h1>site</h1>\n", "directory index: %d %r" % (st, b))
    st, f, b, _ = exchange(port, get("/site"))
    check(st == 200 and f["content-type"].startswith("text/html"), "directory index type")
    st, f, b, _ = exchange(port, get("/f64.bin?x=/../..#"))
    check(st == 200 and b == files["f64.bin"], "query ignored: %d" % st)
    # HEAD: the same fields, no body: the next response follows the head.
    s = connect(port)
    s.sendall(b"HEAD /f1m.bin HTTP/1.1\r\nHost: t\r\n\r\n" + get("/f64.bin"))
    r = Reader(s)
    st, f, b = r.response(head_only=True)
    check(st == 200 and f["content-length"] == str(1 << 20), "HEAD fields %r" % f)
    st, f2, b = r.response()
    check(st == 200 and b == files["f64.bin"], "the answer after HEAD: %d" % st)
    s.close()
    # If-Modified-Since.
    lm = f["last-modified"]
    st, _, b, _ = exchange(port, get("/f1m.bin", extra="If-Modified-Since: %s\r\n" % lm))
    check(st == 304 and b == b"", "If-Modified-Since = Last-Modified: %d" % st)
    st, _, b, _ = exchange(port, get("/f64.bin", extra="If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"))
    check(st == 200 and b == files["f64.bin"], "If-Modified-Since in 1994: %d" % st)
    st, _, b, _ = exchange(port, get("/f64.bin", extra="If-Modified-Since: yesterday\r\n"))
    check(st == 200, "If-Modified-Since not a date: %d" % st)
    # A small body is read and dropped; the next request is answered.
    s = connect(port)
    s.sendall(b"GET /f64.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789" +
              get("/f4k.bin"))
    r = Reader(s)
    a, b2 = r.response(), r.response()
    check(a[2] == files["f64.bin"] and b2[2] == files["f4k.bin"], "GET with a body")
    s.close()


def t_http10(port, files):
    s = connect(port)
    ka = "Connection: keep-alive\r\n"
    s.sendall(get("/f64.bin", "1.0", ka))
    r = Reader(s)
    st, f, b = r.response()
    check(st == 200 and b == files["f64.bin"] and f.get("connection") == "keep-alive",
          "HTTP/1.0 keep-alive: %d %r" % (st, f))
    s.sendall(get("/f4k.bin", "1.0"))
    st, f, b = r.response()
    check(st == 200 and b == files["f4k.bin"] and f.get("connection") == "close",
          "HTTP/1.0 second request: %d %r" % (st, f))
    check(r.closed(), "HTTP/1.0 without keep-alive closes")
    s.close()
    s = connect(port)
    s.sendall(get("/f64.bin", "1.1", "Connection: close\r\n") + get("/f4k.bin"))
    r = Reader(s)
    st, f, b = r.response()
    check(st == 200 and f.get("connection") == "close" and r.closed(),
          "Connection: close ends after the first answer")
    s.close()


def t_deadlines(port):
    # Slow headers: a byte now and then is no progress; 408, then close. The
    # client dribbles until the answer is there (no guess at when).
    s = connect(port)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    t0 = time.monotonic()
    r = Reader(s)
    while time.monotonic() - t0 < TIMEOUT:
        if select.select([s], [], [], 0.2)[0]:
            break
        s.sendall(b"s")
    try:
        st, f, _ = r.response()
        check(st == 408 and r.closed(), "slow header: %d" % st)
    except (EOFError, ConnectionResetError):
        check(False, "slow header: closed without 408")
    check(time.monotonic() - t0 < TIMEOUT, "slow header: the deadline is per head, not per byte")
    s.close()
    # Idle: no bytes at all: closed without an answer, not before the limit.
    s = connect(port)
    r = Reader(s)
    t0 = time.monotonic()
    check(r.closed(), "idle connection: closed quietly")
    check(time.monotonic() - t0 >= IDLE - 0.5, "idle connection: closed before --idle-timeout")
    s.close()


def t_resets(srv, files):
    port = srv.port
    for i in range(40):
        s = connect(port)
        s.sendall(get("/f1m.bin" if i % 2 else "/f64k.bin"))
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # a reset, with the server still writing
    st, _, b, _ = exchange(port, get("/f1m.bin"))
    check(st == 200 and b == files["f1m.bin"], "after resets the server still answers")
    # Every client is gone: the listener must soon be the only socket left.
    t_end = time.monotonic() + 15
    while srv.sockets() > 1 and time.monotonic() < t_end:
        time.sleep(0.1)
    check(srv.sockets() == 1, "sockets left open after 40 resets: %d" % (srv.sockets() - 1))


def t_fixed(binary, stack):
    srv = Server(binary, stack, ["--fixed", "100"])
    try:
        s = connect(srv.port)
        s.sendall(get("/anything") + b"HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/y"))
        r = Reader(s)
        a, b, c = r.response(), r.response(head_only=True), r.response()
        check(a[0] == 200 and a[2] == b"x" * 100 and b[1]["content-length"] == "100" and
              c[2] == b"x" * 100, "--fixed 100")
        s.close()
        st, _, _, _ = exchange(srv.port, b"PUT / HTTP/1.1\r\nHost: t\r\n\r\n")
        check(st == 405, "--fixed PUT: %d" % st)
    finally:
        code, out = srv.stop()
        check(code == 0, "--fixed server exit %d: %s" % (code, out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--stack", default="epoll")
    ap.add_argument("--no-sendfile", action="store_true")
    ap.add_argument("suite", choices=["files", "conform"])
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kaon-httpd-")
    try:
        root, files = make_root(tmp)
        args = ["--root", root, "--header-timeout", str(HEADER), "--idle-timeout", str(IDLE)]
        if a.no_sendfile:
            args.append("--no-sendfile")
        srv = Server(a.bin, a.stack, args)
        print(srv.stack, flush=True)
        try:
            if a.suite == "files":
                suite_files(srv.port, root, files)
            else:
                t_statuses(srv.port)
                t_files(srv.port, files)
                t_http10(srv.port, files)
                t_pipelined_splits(srv.port, files)
                t_deadlines(srv.port)
                t_resets(srv, files)
        finally:
            alive = srv.p.poll() is None
            code, out = srv.stop()
            print(out.strip())
            check(alive, "the server died during the tests")
            check(code == 0, "server exit status %d" % code)
        if a.suite == "conform":
            t_fixed(a.bin, a.stack)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
