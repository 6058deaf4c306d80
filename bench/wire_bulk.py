#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bulk TCP transfers through the testbed (and its wire), content-checked.

  wire_bulk.py sink --addr A --port P [--flows K] [--timeout S] [--window S]
      accept K connections, read each to its end; print one JSON line:
      bytes, seconds (first accept to last end), Gb/s, sha256 of each flow;
      with --window, also window_bytes and window_gbps: what arrived in the
      first S seconds after the first accept (senders that keep different
      amounts queued at their end are compared over the same time)
  wire_bulk.py send --addr A --port P (--bytes N | --seconds S) [--flows K]
      K connections, each sending N/K bytes (or for S seconds) of seeded
      pseudo-random data; JSON: bytes, seconds, Gb/s, sha256 of each flow
  wire_bulk.py echo --addr A --port P --bytes N [--flows K] [--timeout S]
      against an echo server: K connections each send N/K bytes and read
      them back; JSON with ok=true when every flow came back whole, same hash

The sink's and sender's flow hashes are compared by the caller (flows are
matched by the 8-byte flow number each sender writes first). Exit status:
0, or 1 on an error or (echo) a mismatch.
"""
import argparse
import hashlib
import json
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 20
BLOCK = 16 << 20  # --seconds: a seeded block sent again and again


def pattern(seed, n):
    return random.Random(seed).randbytes(n)



def run_flows(n, flow):
    """Run flow(0..n-1) in threads at once. @return the seconds it took."""
    t0 = time.monotonic()
    threads = [threading.Thread(target=flow, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0

def recv_all(sock, hasher, deadline, window=None):
    """Read to the end; @window: [end time, bytes before it] to count in."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        if deadline:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("receive timed out after %d bytes" % total)
            sock.settimeout(left)
        n = sock.recv_into(view)
        if n == 0:
            return total
        hasher.update(view[:n])
        total += n
        if window and time.monotonic() <= window[0]:
            window[1] += n


def sink(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(64)
    print("listening", flush=True, file=sys.stderr)
    res, errs, threads = {}, [], []
    deadline = time.monotonic() + a.timeout if a.timeout else 0
    t0 = None
    wins = []

    def serve(c, win):
        try:
            hdr = b""
            while len(hdr) < 8:
                got = c.recv(8 - len(hdr))
                if not got:
                    raise ConnectionError("closed before the flow number")
                hdr += got
            h = hashlib.sha256()
            n = recv_all(c, h, deadline, win)
            res[int.from_bytes(hdr, "big")] = (n, h.hexdigest())
        except Exception as e:  # reported, not raised: the others go on
            errs.append(str(e))
        finally:
            c.close()

    for _ in range(a.flows):
        if deadline:
            ls.settimeout(max(deadline - time.monotonic(), 0.1))
        c, _ = ls.accept()
        if t0 is None:
            t0 = time.monotonic()
        win = [t0 + a.window, 0] if a.window else None
        wins.append(win)
        t = threading.Thread(target=serve, args=(c, win))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    total = sum(n for n, _ in res.values())
    out = {"bytes": total, "seconds": round(secs, 3),
           "gbps": round(total * 8 / secs / 1e9, 4) if secs > 0 else 0,
           "sha256": {str(k): v[1] for k, v in sorted(res.items())},
           "errors": errs}
    if a.window:
        wb = sum(w[1] for w in wins)
        out.update(window_s=a.window, window_bytes=wb,
                   window_gbps=round(wb * 8 / a.window / 1e9, 4))
    print(json.dumps(out), flush=True)
    return 1 if errs else 0


def connect(a):
    s = socket.create_connection((a.addr, a.port), timeout=30)
    s.settimeout(None)
    return s


def send(a):
    res, errs = {}, []
    per = a.bytes // a.flows if a.bytes else 0

    def flow(i):
        try:
            s = connect(a)
            s.sendall(i.to_bytes(8, "big"))
            h = hashlib.sha256()
            sent = 0
            if per:
                data = memoryview(pattern(a.seed + i, per))
                for off in range(0, per, CHUNK):
                    piece = data[off:off + CHUNK]
                    s.sendall(piece)
                    h.update(piece)
                sent = per
            else:
                data = memoryview(pattern(a.seed + i, BLOCK))
                end = time.monotonic() + a.seconds
                while time.monotonic() < end:
                    off = sent % BLOCK
                    piece = data[off:off + CHUNK]
                    s.sendall(piece)
                    h.update(piece)
                    sent += len(piece)
            s.shutdown(socket.SHUT_WR)
            # Wait for the sink to finish reading: end of stream from it.
            while s.recv(4096):
                pass
            s.close()
            res[i] = (sent, h.hexdigest())
        except Exception as e:
            errs.append("flow %d: %s" % (i, e))

    secs = run_flows(a.flows, flow)
    total = sum(n for n, _ in res.values())
    print(json.dumps({"bytes": total, "seconds": round(secs, 3),
                      "gbps": round(total * 8 / secs / 1e9, 4),
                      "sha256": {str(k): v[1] for k, v in sorted(res.items())},
                      "errors": errs}), flush=True)
    return 1 if errs else 0


def echo(a):
    res, errs = {}, []
    per = a.bytes // a.flows
    deadline = time.monotonic() + a.timeout if a.timeout else 0

    def flow(i):
        try:
            s = connect(a)
            data = pattern(a.seed + i, per)
            want = hashlib.sha256(data).hexdigest()
            got = hashlib.sha256()
            box = {}

            def reader():
                try:
                    box["n"] = recv_all(s, got, deadline)
                except Exception as e:
                    box["err"] = e

            r = threading.Thread(target=reader)
            r.start()
            view = memoryview(data)
            for off in range(0, per, CHUNK):
                s.sendall(view[off:off + CHUNK])
            s.shutdown(socket.SHUT_WR)
            r.join()
            s.close()
            if "err" in box:
                raise box["err"]
            res[i] = (box["n"], got.hexdigest() == want and box["n"] == per)
        except Exception as e:
            errs.append("flow %d: %s" % (i, e))

    secs = run_flows(a.flows, flow)
    total = sum(n for n, _ in res.values())
    ok = not errs and len(res) == a.flows and all(v[1] for v in res.values())
    print(json.dumps({"bytes": total, "seconds": round(secs, 3),
                      "gbps": round(total * 8 / secs / 1e9, 4), "ok": ok,
                      "errors": errs}), flush=True)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["sink", "send", "echo"])
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--flows", type=int, default=1)
    p.add_argument("--bytes", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--timeout", type=float, default=0)
    p.add_argument("--window", type=float, default=0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.mode == "send" and not (a.bytes or a.seconds):
        p.error("send needs --bytes or --seconds")
    if a.mode == "echo" and not a.bytes:
        p.error("echo needs --bytes")
    return {"sink": sink, "send": send, "echo": echo}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
