#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Per-request instruction budget by stage, from a callgrind output file.

    cg_stages.py CALLGRIND_OUT --requests N [--sides 2] [--json] [--top K]

Why callgrind and not rdtsc: instruction counts do not move with the load of
a shared machine, need no code in the hot path (the profile build is the
build), and add up exactly to the guard's figure (total Ir / requests /
sides). Cycles would say more about cache misses, but on two shared cores
they are noise at this scale (a request is well under a microsecond).

How: every function's own cost (callgrind's "self") goes to a stage. A
stage is named by its root functions (STAGES below: functions that are
never inlined, checked against the file); a function that is no root
belongs to the stage of whoever called it. Callgrind keeps caller->callee
edges with their inclusive cost, not whole stacks, so a function called
from several stages is split between them in proportion to those edges
(gprof's assumption); for the functions here (mbuf alloc/free, memcpy) it
is what happens. Recursion (none on this path) is cut at the back edge.
"""
import argparse
import json
import re
import sys
from collections import defaultdict

# stage name, root functions. Order: as a request flows through one side.
STAGES = [
    ("rx burst", ["loop_rx", "kaon_dpdk_rx", "dev_rx_burst"]),
    ("eth/ip input", ["kn_eth_input", "kn_ip4_input", "kn_ip4_deliver"]),
    ("TCP input", ["kn_tcp_input"]),
    ("socket wake", ["dispatch_events", "kn_stack_timers"]),
    ("coroutine switch", ["kaon_co_switch", "co_switch", "kn_co_switch"]),
    ("application", ["on_event"]),
    ("socket calls", ["kn_tcp_recv", "kn_tcp_send", "kn_tcp_sendv", "kn_tcp_recv_mbuf",
                      "after_read_update"]),
    ("TCP output", ["kn_tcp_output", "kn_tcp_output_new", "kn_tcp_output_at", "kn_tcp_send_ack"]),
    ("ip/eth output", ["kn_ip4_output_tcp", "kn_ip4_output"]),
    ("tx", ["kn_stack_flush", "loop_tx"]),
    ("timers", ["kn_tcp_timers", "kn_tcp_timer_file", "kn_tcp_timer_unfile", "kn_arp_timer",
                "kn_frag_timer", "kn_tw_expire", "kn_tw_add", "kn_tw_remove"]),
]
HARNESS = "harness (stack-loop, poll)"

NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse(path):
    """@return (self cost by function, {(caller, callee): inclusive}, total)."""
    names = {}
    selfc = defaultdict(int)
    edges = defaultdict(int)
    total = 0
    fn = None
    callee = None
    pending_call = False

    def name(v):
        m = NAME_RE.match(v)
        if not m:
            return v
        i, n = m.group(1), m.group(2)
        if n is not None:
            names[i] = n
        return names.get(i, "?" + i)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                ir = int(parts[1])
                if pending_call:
                    edges[(fn, callee)] += ir
                    pending_call = False
                else:
                    selfc[fn] += ir
                continue
            if line.startswith("fn="):
                fn = name(line[3:])
                selfc[fn] += 0
            elif line.startswith("cfn="):
                callee = name(line[4:])
            elif line.startswith("calls="):
                pending_call = True
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    if not total:
        total = sum(selfc.values())
    return selfc, edges, total


def attribute(selfc, edges):
    """Cost by stage. @return ({stage: Ir}, roots found)."""
    root = {}
    for stage, fns in STAGES:
        for f in fns:
            root[f] = stage
    callees = defaultdict(list)
    incl_in = defaultdict(int)   # inclusive cost of f, summed over its callers
    for (a, b), v in edges.items():
        callees[a].append((b, v))
        incl_in[b] += v
    memo = {}
    onstack = set()

    def split(f):
        """{stage or None (the caller's): Ir} of one unit of f's inclusive cost, scaled
        to f's whole inclusive cost."""
        if f in memo:
            return memo[f]
        onstack.add(f)
        d = defaultdict(float)
        d[None] += selfc.get(f, 0)
        for g, v in callees.get(f, []):
            if g in onstack or g == f:
                d[None] += v           # recursion: cut at the back edge
                continue
            sg = split(g)
            tot = sum(sg.values())
            if tot <= 0:
                continue
            k = v / tot
            for st, x in sg.items():
                d[st] += x * k
        if f in root:
            d[root[f]] += d.pop(None, 0)
        onstack.discard(f)
        memo[f] = d
        return d

    out = defaultdict(float)
    # Top-level: functions nobody calls (within the collected part).
    tops = [f for f in selfc if incl_in.get(f, 0) == 0]
    for f in tops:
        for st, x in split(f).items():
            out[st if st else HARNESS] += x
    found = sorted(f for f in root if f in selfc)
    return out, found


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file")
    p.add_argument("--requests", type=int, required=True)
    p.add_argument("--sides", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--top", type=int, default=0,
                   help="also list the K functions with the most own cost")
    a = p.parse_args()
    selfc, edges, total = parse(a.file)
    by, found = attribute(selfc, edges)
    per = a.requests * a.sides
    order = [s for s, _ in STAGES] + [HARNESS]
    rows = [(s, by.get(s, 0.0) / per) for s in order]
    if a.json:
        print(json.dumps({"requests": a.requests, "sides": a.sides,
                          "total_per_request_per_side": total / per,
                          "stages": {s: round(v, 1) for s, v in rows}}))
        return 0
    print("instructions per request per side, by stage (callgrind, %d requests, %d sides)"
          % (a.requests, a.sides))
    for s, v in rows:
        note = ""
        if s == "coroutine switch" and v == 0:
            note = "  (none here: stack-loop's application runs in the event callback)"
        print("  %-28s %8.0f %5.1f%%%s" % (s, v, 100 * v * per / total if total else 0, note))
    print("  %-28s %8.0f" % ("total", total / per))
    if a.top:
        print("functions by own cost (per request per side):")
        for f, v in sorted(selfc.items(), key=lambda kv: -kv[1])[:a.top]:
            print("  %8.1f  %s" % (v / per, f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
