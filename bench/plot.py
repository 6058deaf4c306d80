#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Pictures of bench/run's tables: an SVG and a PNG per table.

    bench/plot.py [--out-dir DIR] RESULTS.json...

Reads what bench/run writes in bench/results/: latest.json (a list of rows:
the 127.0.0.1 table and the veth testbed table) or echo-STAMP.json (its
"summary" is the 127.0.0.1 table). For each table it draws requests/s per
server and connection count, and the latency percentiles it has (p50, p99,
p99.9), and writes NAME-TABLE.svg and NAME-TABLE.png next to the JSON (or in
DIR), printing their paths.

Run by /usr/bin/python3 on purpose: Debian's python3-matplotlib is installed
for the system interpreter, not for a pyenv or venv `python3` on PATH.
Without matplotlib it says so and exits 0: a missing picture never fails a
benchmark.
"""
import argparse
import json
import os
import sys

PERCENTILES = [("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p999_us", "p99.9")]


def load_tables(path):
    """{table name: [row, ...]} with rows {server, scenario, rps, pNN_us...}."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict) and "summary" in data:
        rows, fixed = data["summary"], "loopback"
    elif isinstance(data, list):
        rows, fixed = data, None
    else:
        raise ValueError("%s: neither bench/run's latest.json nor an echo-*.json" % path)
    tables = {}
    for r in rows:
        table = fixed or ("loopback" if r.get("path") == "127.0.0.1" else "testbed")
        rps = r.get("requests_per_sec", r.get("rps_median"))
        if rps is None or "server" not in r:
            continue
        scen = r.get("scenario") or "%s %s" % (r.get("mode", "?"), r.get("conns", "?"))
        label = "%s\n%s conn%s" % (r.get("mode", scen), r.get("conns", "?"),
                                   "" if r.get("conns") == 1 else "s")
        row = {"server": r["server"], "scenario": scen, "label": label, "rps": float(rps)}
        for key, _ in PERCENTILES:
            if r.get(key):
                row[key] = float(r[key])
        tables.setdefault(table, []).append(row)
    return tables


def in_order(rows, key):
    seen = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen


def numbers_on_log_axis(ax, ticker, lowest):
    """Plain numbers (2000, not 2x10^3), on minor ticks too when a decade is all
    there is; the axis starts below the lowest bar, so that every bar shows."""
    ax.set_ylim(bottom=lowest / 2)
    fmt = ticker.FuncFormatter(lambda v, _: "%g" % v)
    ax.yaxis.set_major_formatter(fmt)
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 20:
        ax.yaxis.set_minor_formatter(fmt)


def draw(plt, ticker, rows, title, base):
    scens = in_order(rows, "scenario")
    servers = in_order(rows, "server")
    pcts = [(k, n) for k, n in PERCENTILES if any(k in r for r in rows)]
    by = {(r["scenario"], r["server"]): r for r in rows}
    labels = [next(r["label"] for r in rows if r["scenario"] == s) for s in scens]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.8 / max(1, len(servers))
    npanel = 1 + (1 if pcts else 0)
    fig, axes = plt.subplots(npanel, 1, figsize=(max(7, 1.6 * len(scens) + 3), 4.2 * npanel),
                             squeeze=False)
    ax = axes[0][0]
    vals = [r["rps"] for r in rows if r["rps"] > 0]
    for i, srv in enumerate(servers):
        xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(scens))]
        ys = [by[(s, srv)]["rps"] if (s, srv) in by else 0 for s in scens]
        ax.bar(xs, ys, width, label=srv, color=colors[i % len(colors)])
    if vals and max(vals) / min(vals) > 50:
        ax.set_yscale("log")
        numbers_on_log_axis(ax, ticker, min(vals))
    ax.set_ylabel("requests/s (median)")
    ax.set_title(title + ": requests/s")
    ax.set_xticks(range(len(scens)))
    ax.set_xticklabels(labels)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncol=min(4, len(servers)))
    if pcts:
        ax = axes[1][0]
        # One bar per percentile, lightest (highest) first, each drawn over the last.
        for i, srv in enumerate(servers):
            xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(scens))]
            for depth, (key, _) in enumerate(reversed(pcts)):
                ys = [by[(s, srv)].get(key, 0) if (s, srv) in by else 0 for s in scens]
                alpha = 0.25 + 0.75 * (depth + 1) / len(pcts)
                ax.bar(xs, ys, width, color=colors[i % len(colors)], alpha=alpha,
                       label=srv if depth == len(pcts) - 1 else None)
        ax.set_yscale("log")
        lat = [r[k] for r in rows for k, _ in pcts if r.get(k, 0) > 0]
        numbers_on_log_axis(ax, ticker, min(lat) if lat else 1)
        ax.set_ylabel("latency, microseconds")
        ax.set_title("%s: latency %s (darkest lowest)" %
                     (title, ", ".join(n for _, n in pcts)))
        ax.set_xticks(range(len(scens)))
        ax.set_xticklabels(labels)
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.legend(fontsize="small", ncol=min(4, len(servers)))
    fig.tight_layout()
    out = []
    for ext in ("svg", "png"):
        p = "%s.%s" % (base, ext)
        fig.savefig(p, dpi=110)
        out.append(p)
    plt.close(fig)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", help="where the pictures go (default: next to each JSON)")
    p.add_argument("json", nargs="+")
    a = p.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker as ticker
    except ImportError:
        print("bench/plot.py: no pictures: matplotlib is missing for %s (Debian: apt-get "
              "install python3-matplotlib, or scripts/deps.sh)" % sys.executable)
        return 0
    titles = {"loopback": "127.0.0.1, kernel client", "testbed": "veth testbed"}
    for path in a.json:
        try:
            tables = load_tables(path)
        except (OSError, ValueError) as e:
            print("bench/plot.py: %s" % e, file=sys.stderr)
            return 1
        name = os.path.splitext(os.path.basename(path))[0]
        outdir = a.out_dir or os.path.dirname(os.path.abspath(path))
        os.makedirs(outdir, exist_ok=True)
        for table, rows in tables.items():
            files = draw(plt, ticker, rows, titles.get(table, table),
                         os.path.join(outdir, "%s-%s" % (name, table)))
            rel = os.path.relpath(files[0])
            print("picture: %s (and %s)" % (files[0] if rel.startswith("..") else rel,
                                            os.path.basename(files[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
