#!/usr/bin/env python3
"""report.py - markdown report and plot from a bench.sh CSV.

  report.py --csv docs/perf/bench-DATE.csv --machine FILE --command CMD
            --out docs/perf [--slow-node NODE]
Writes OUT/bench-DATE.md, OUT/bench-DATE.png (gnuplot, when present) and
OUT/latest.md (the same report, linking the dated plot).
Exit 0 ok, 1 on error, 2 on usage.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys

ORDER = ["ideal", "floor", "rsync", "aria2", "aria2seed", "udpcast", "swarmimager"]
NAMES = {
    "ideal": "ideal (size / rate)",
    "floor": "floor (decompressor piped to tar -x)",
    "rsync": "rsync unicast",
    "aria2": "aria2c + opentracker, nodes leave",
    "aria2seed": "aria2c + opentracker, nodes keep seeding",
    "udpcast": "udpcast multicast",
    "swarmimager": "SwarmImager",
}


def fmt(v, unit=""):
    return (v + unit) if v not in ("", None) else "-"


def method_key(m):
    return (ORDER.index(m) if m in ORDER else len(ORDER), m)


def node_cells(r):
    """Per-node CPU seconds and peak memory (t/perf/peakmem), or dashes."""
    return [fmt(r.get("node_cpu_s"), " s"), fmt(r.get("node_anon_mb"), " MB"),
            fmt(r.get("node_file_mb"), " MB")]


NODE_HEAD = ["node CPU (mean)", "node anon peak", "node file-backed peak"]


def single_table(rows):
    """The "single" scenario: one node on loopback against the floor."""
    rows = [r for r in rows if r["scenario"] == "single"]
    if not rows:
        return []
    floor = next((float(r["all_done_s"]) for r in rows
                  if r["method"] == "floor" and r["all_done_s"]), None)
    head = ["method", "wall", "x floor", "CPU"] + NODE_HEAD[1:] + ["status"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows.sort(key=lambda r: method_key(r["method"]))
    for r in rows:
        ratio = ("%.2f" % (float(r["all_done_s"]) / floor)
                 if floor and r["all_done_s"] else "")
        out.append("| " + " | ".join(
            [NAMES.get(r["method"], r["method"]), fmt(r["all_done_s"], " s"),
             fmt(ratio), fmt(r.get("node_cpu_s"), " s"),
             fmt(r.get("node_anon_mb"), " MB"), fmt(r.get("node_file_mb"), " MB"),
             r["status"] + (" (%s)" % r["note"] if r["note"] else "")]) + " |")
    return out


def table(rows, scenario, slow_node):
    rows = [r for r in rows if r["scenario"] == scenario]
    if not rows:
        return []
    special = {"slow": "slow node (%s) done" % slow_node,
               "slow3": "slower node (%s) done" % slow_node,
               "late": "late quarter done",
               "die": "killed node (%s)" % slow_node,
               "stock": "stock client (%s) done" % slow_node}.get(scenario)
    head = ["method", "N", "all done", "mean node"]
    if special:
        head += ["others done", special]
    head += ["x ideal", "server sent (images)", "CPU busy", "CPU pressure"] + NODE_HEAD + [
        "nodes ok", "status"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows.sort(key=lambda r: (int(r["nodes"]), method_key(r["method"])))
    for r in rows:
        cells = [NAMES.get(r["method"], r["method"]), r["nodes"],
                 fmt(r["all_done_s"], " s"), fmt(r["mean_node_s"], " s")]
        if special:
            cells += [fmt(r["others_done_s"], " s"),
                      "killed" if scenario == "die" and r["method"] != "ideal"
                      else fmt(r["special_done_s"], " s")]
        status = r["status"] + (" (%s)" % r["note"] if r["note"] and r["method"] != "ideal" else "")
        ratio = ("%.2f" % (float(r["all_done_s"]) / float(r["ideal_s"]))
                 if r["all_done_s"] and r["ideal_s"] and float(r["ideal_s"]) > 0 else "")
        cells += [fmt(ratio), fmt(r["server_sent_images"]), fmt(r["cpu_pct"], " %"),
                  fmt(r["cpu_psi_pct"], " %")] + node_cells(r) + [
                  "%s/%s" % (r["ok_nodes"], r["nodes"]) if r["method"] != "ideal" else "-",
                  status]
        out.append("| " + " | ".join(cells) + " |")
    return out


def plot(rows, png, title):
    if not shutil.which("gnuplot"):
        return False
    base = [r for r in rows if r["scenario"] == "base" and r["all_done_s"]]
    methods = sorted({r["method"] for r in base}, key=method_key)
    if not methods:
        return False
    datadir = os.path.dirname(png)
    files, cmds = [], []
    for m in methods:
        pts = sorted((int(r["nodes"]), float(r["all_done_s"])) for r in base
                     if r["method"] == m and r["status"] == "ok" or
                     (r["method"] == m and m == "ideal"))
        if not pts:
            continue
        f = os.path.join(datadir, ".plot-%s.dat" % m)
        with open(f, "w") as fh:
            fh.writelines("%d %.2f\n" % p for p in pts)
        files.append(f)
        style = "lines dashtype 2 lw 2" if m == "ideal" else "linespoints lw 2 pt 7"
        cmds.append("'%s' using 1:2 with %s title '%s'" % (f, style, NAMES.get(m, m)))
    script = """set terminal pngcairo size 900,560 noenhanced font ',10'
set output '%s'
set title '%s'
set xlabel 'nodes'
set ylabel 'seconds until every node holds the image'
set logscale x 2
set grid
set yrange [0:*]
set key top left
plot %s
""" % (png, title.replace("'", ""), ", ".join(cmds))
    try:
        r = subprocess.run(["gnuplot"], input=script, text=True,
                           capture_output=True)
        if r.returncode != 0:
            # pngcairo may be missing in gnuplot-nox: plain png then.
            r = subprocess.run(["gnuplot"], text=True, capture_output=True,
                               input=script.replace("pngcairo", "png"))
        if r.returncode != 0:
            print("report.py: gnuplot: %s" % r.stderr.strip(), file=sys.stderr)
        return r.returncode == 0
    finally:
        for f in files:
            os.unlink(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--slow-node", default="the last node")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    try:
        with open(a.csv) as fh:
            rows = list(csv.DictReader(fh))
        with open(a.machine) as fh:
            machine = fh.read().rstrip("\n")
    except OSError as e:
        print("report.py: cannot read '%s': %s" % (e.filename, e.strerror), file=sys.stderr)
        return 1
    if not rows:
        print("report.py: no rows in '%s'" % a.csv, file=sys.stderr)
        return 1
    stem = os.path.splitext(os.path.basename(a.csv))[0]
    r0 = next((r for r in rows if r["scenario"] not in ("single", "fast")), rows[0])
    size_mb = int(r0["image_bytes"]) / 1e6
    title = "%s: %.1f MB image, %s links" % (stem, size_mb, r0["rate"])
    png = os.path.join(a.out, stem + ".png")
    have_plot = plot(rows, png, title)
    md = ["# Deployment benchmark %s" % r0["run"], "",
          "Image: %.1f MB tarball; every host link %s each way; ideal time "
          "(image size / link rate) %s s." % (size_mb, r0["rate"], r0["ideal_s"]), "",
          "Command: `%s`" % a.command, ""] + (["Note: " + a.note, ""] if a.note else []) + [
          "Machine:", machine, "",
          "Times are seconds from the start of the run until the node's "
          "method command returned with the complete file (sha256 checked "
          "after the run); \"mean node\" is each node's own duration. "
          "Server sent = bytes sent on the server's link / image size. "
          "CPU busy and CPU pressure (/proc/pressure/cpu, some) cover the "
          "whole machine during the run, other work included.", ""]
    if have_plot:
        md += ["![time versus nodes](%s)" % os.path.basename(png), ""]
    t = single_table(rows)
    if t:
        md += ["## One node on loopback, no shaping (single)", "",
               "Each into a fresh ext4 on a loop device, page cache dropped "
               "first; x floor = wall time / the floor's. CPU: user + system "
               "seconds of the node's process and the children it waited for; "
               "anonymous and file-backed (file + shmem) peaks of the node's "
               "process, sampled every 20 ms (t/perf/peakmem).", ""] + t + [""]
    fast = [r for r in rows if r["scenario"] == "fast"]
    if fast:
        md += ["## Fast links: %s each way (fast)" % fast[0]["rate"], "",
               "Ideal %s s." % fast[0]["ideal_s"], ""] + table(rows, "fast", a.slow_node) + [""]
    for scen, text in (("base", "## All nodes start together"),
                       ("slow", "## One node on a link ten times slower (%s)" % a.slow_node),
                       ("slow3", "## One node on a link three times slower (%s)" % a.slow_node),
                       ("late", "## A quarter of the nodes join late"),
                       ("die", "## One node (%s) killed part-way" % a.slow_node),
                       ("stock", "## One node (%s) runs a stock client (aria2c) in the swarm" % a.slow_node)):
        t = table(rows, scen, a.slow_node)
        if t:
            md += [text, ""] + t + [""]
    md += ["Raw data: `%s`, per node: `%s-nodes.csv`." % (os.path.basename(a.csv), stem), ""]
    text = "\n".join(md)
    try:
        for name in (stem + ".md", "latest.md"):
            tmp = os.path.join(a.out, "." + name + ".tmp")
            with open(tmp, "w") as fh:
                fh.write(text)
            os.rename(tmp, os.path.join(a.out, name))
    except OSError as e:
        print("report.py: cannot write '%s': %s" % (e.filename, e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
