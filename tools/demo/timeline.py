#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Draw the demo's timeline with gnuplot: pool levels per router and
direction over time, each re-key marked QKD-keyed, ML-KEM only or failed,
the QKD link's outage shaded, ping loss below.

Usage: timeline.py TIMELINE.json OUTDIR

TIMELINE.json is what tools/demo/lab_demo.py prints after "@@TIMELINE@@"
(tools/demo/demo.sh extracts it):

    {"capacity": N, "high": N, "low": N,
     "samples": [[t, {"tokyo": [out, in], "osaka": [out, in]}, sent, lost], ...],
     "rekeys": [[t, "qkd" | "mlkem" | "failed"], ...],
     "cut": t, "restore": t, "method": "...",
     "title": "..." (optional), "cut_label": "..." (optional)}

tools/demo/network_demo.py (`make demo-network`) writes the same with its
end-to-end pools ("tokyo: pool kobe", "kobe: pool tokyo") in place of the
routers and the tokyo-kobe SA's re-keys.

(t in seconds since the demo's start).  Writes OUTDIR/timeline.svg and
OUTDIR/timeline.png, and the data files gnuplot read (OUTDIR/*.dat,
OUTDIR/timeline.gp) so that anyone can redraw it.  Runs where gnuplot is:
the build root (tools/inroot.sh)."""

import json
import os
import subprocess
import sys

MARK = {"qkd": ("QKD-keyed re-key", "#1a9850", 7),
        "mlkem": ("ML-KEM-only re-key", "#f46d43", 9),
        "failed": ("failed re-key", "#d73027", 2)}


def write_data(tl, out):
    routers = sorted(tl["samples"][0][1]) if tl["samples"] else []
    with open(os.path.join(out, "levels.dat"), "w") as f:
        f.write("# t " + " ".join(f"{r}_out {r}_in" for r in routers) + " ping_sent ping_lost\n")
        for t, lv, sent, lost in tl["samples"]:
            f.write(f"{t:.2f} " + " ".join(f"{lv[r][0]} {lv[r][1]}" for r in routers) +
                    f" {sent} {lost}\n")
    for kind in MARK:
        with open(os.path.join(out, f"rekeys-{kind}.dat"), "w") as f:
            f.write("# t\n")
            for t, k in tl["rekeys"]:
                if k == kind:
                    f.write(f"{t:.2f}\n")
    return routers


def script(tl, routers, out):
    cap = tl["capacity"]
    top = cap * 1.18
    end = max([s[0] for s in tl["samples"]] + [0]) + 1
    lines = []
    colors = {"tokyo": ("#2166ac", "#67a9cf"), "osaka": ("#762a83", "#c2a5cf"),
              "kobe": ("#762a83", "#c2a5cf")}
    col = 2
    for r in routers:
        c = colors.get(r.split(":")[0], ("#333333", "#999999"))   # "tokyo: pool kobe"
        lines.append(f"'levels.dat' using 1:{col} with steps lw 2 lc rgb '{c[0]}' "
                     f"title '{r} outbound'")
        lines.append(f"'levels.dat' using 1:{col + 1} with steps lw 2 dt 2 lc rgb '{c[1]}' "
                     f"title '{r} inbound'")
        col += 2
    ping_col = col + 1
    lost = max([x[3] for x in tl["samples"]] + [0])
    ping_step = max(1, -(-lost // 4))
    for kind, (title, color, pt) in MARK.items():
        if any(k == kind for _, k in tl["rekeys"]):
            lines.append(f"'rekeys-{kind}.dat' using 1:({cap * 1.09}) with points pt {pt} "
                         f"ps 1.2 lc rgb '{color}' title '{title}'")
    shade = ""
    if tl.get("cut") is not None:
        shade = (f"set object 1 rect from {tl['cut']:.2f}, graph 0 to "
                 f"{tl.get('restore') or end:.2f}, graph 1 fc rgb '#fee08b' "
                 "fs solid 0.35 noborder behind\n"
                 f"set label 1 '{tl.get('cut_label', 'QKD link cut')}' at {tl['cut']:.2f}, graph 0.84 offset 0.5,0 "
                 "font ',10'\n")
    return f"""# The demo's timeline (tools/demo/timeline.py); redraw: gnuplot timeline.gp
set datafile commentschars '#'
set termoption noenhanced
set multiplot
set lmargin 10
set rmargin 4
set xrange [0:{end:.0f}]
set size 1, 0.72
set origin 0, 0.28
set ylabel 'keys in the pool'
set yrange [0:{top:.0f}]
set title '{tl.get("title", "qkd-ipsec lab")}, {tl.get("method", "")}: pool levels and re-keys' font ',12'
set key outside top center horizontal maxrows 2 font ',9'
set grid ytics lc rgb '#dddddd'
set arrow 1 from graph 0, first {tl['high']} to graph 1, first {tl['high']} nohead dt 3 lc rgb '#888888'
set arrow 2 from graph 0, first {tl['low']} to graph 1, first {tl['low']} nohead dt 3 lc rgb '#888888'
{shade}set format x ''
plot {', '.join(lines)}
unset title
unset object 1
unset label 1
unset arrow 1
unset arrow 2
set size 1, 0.28
set origin 0, 0
set format x '%g'
set xlabel 'seconds since the start'
set ylabel 'pings lost'
set yrange [0:{max(lost, 1) * 1.1:.2f}]
set ytics {ping_step}
set key inside left top font ',9'
{shade.replace("set label 1", "#")}plot 'levels.dat' using 1:{ping_col} with steps lw 2 lc rgb '#d73027' title 'pings lost (cumulative)'
unset multiplot
"""


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        tl = json.load(f)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    routers = write_data(tl, out)
    gp = script(tl, routers, out)
    with open(os.path.join(out, "timeline.gp"), "w") as f:
        f.write(gp)
    for term, name in (("svg size 1000,620 dynamic font 'sans,11'", "timeline.svg"),
                       ("pngcairo size 1000,620 font 'sans,10'", "timeline.png")):
        p = subprocess.run(["gnuplot", "-e", f"set terminal {term}; set output '{name}'",
                            "timeline.gp"], cwd=out, capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"gnuplot ({name}): {p.stderr}")
    print(f"timeline: {out}/timeline.svg, {out}/timeline.png")


if __name__ == "__main__":
    main()
