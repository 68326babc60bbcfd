"""Bar charts of one CPU mode's results, drawn by gnuplot (Debian gnuplot-nox).

One panel per workload and client mode; one bar per server: the median
req/s over the rounds, the whisker spanning the slowest and fastest round.
gowsgi is the first bar and always the same colour, so the eye finds it.
"""

import os
import shutil
import subprocess
import sys

COLOURS = {
    "gowsgi": "#1b7837",
    "floor": "#bbbbbb",
    "gunicorn-sync": "#2166ac",
    "gunicorn-gthread": "#67a9cf",
    "uwsgi-http11": "#b2182b",
    "uwsgi-http": "#ef8a62",
    "waitress": "#984ea3",
    "nginx-gowsgi": "#a65628",
    "uvicorn": "#4daf4a",
    "hypercorn": "#ff7f00",
}
TITLES = {"ka": "keep-alive", "close": "Connection: close"}


def _panel_data(res, wl, mode, path):
    """Writes "index server median min max colour" rows; returns the row count."""
    n = 0
    with open(path, "w") as fh:
        for s in res.servers(wl, mode):
            rps = [float(r["rps"]) for r in res.rows(wl, mode, s) if r["rps"] not in ("", "NA")]
            if not rps:
                continue
            rps.sort()
            mid = rps[len(rps) // 2] if len(rps) % 2 else (rps[len(rps) // 2 - 1] + rps[len(rps) // 2]) / 2
            colour = int(COLOURS.get(s, "#777777")[1:], 16)
            fh.write(f"{n} {s} {mid:.1f} {rps[0]:.1f} {rps[-1]:.1f} {colour}\n")
            n += 1
    return n


def draw(res, cpu_mode, png, work_dir):
    """Draws png; returns False (and says why) when gnuplot is missing or fails."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("chart.py: gnuplot not found (apt-get install gnuplot-nox); no chart", file=sys.stderr)
        return False
    cases = res.cases()
    cols = 4
    rows = (len(cases) + cols - 1) // cols
    script = [
        f"set terminal pngcairo size {cols * 330},{rows * 300 + 40} font 'DejaVu Sans,9'",
        f"set output '{png}'",
        f"set multiplot layout {rows},{cols} title "
        f"'req/s, 2 workers, wrk -c64 on 127.0.0.1, {cpu_mode} CPUs (median of rounds, whiskers: min–max)'",
        "set style fill solid 0.9 border -1",
        "set boxwidth 0.75",
        "set xtics rotate by -40 left nomirror",
        "set ytics nomirror",
        "set format y '%.1s%c'",
        "set grid ytics",
        "unset key",
        "set yrange [0:*]",
        "set bmargin 6",
    ]
    for i, (wl, mode) in enumerate(cases):
        data = os.path.join(work_dir, f"chart-{wl}-{mode}.dat")
        n = _panel_data(res, wl, mode, data)
        script += [
            f"set title '{wl}, {'new TLS connections' if wl.startswith('tls-') and mode == 'close' else TITLES.get(mode, mode)}'",
            f"set xrange [-0.6:{max(n, 1) - 0.4}]",
            f"plot '{data}' using 1:3:6:xtic(2) with boxes lc rgb variable, "
            f"'' using 1:3:4:5 with yerrorbars lc rgb '#222222' pt 7 ps 0",
        ]
    script.append("unset multiplot")
    gp = os.path.join(work_dir, "chart.gp")
    with open(gp, "w") as fh:
        fh.write("\n".join(script) + "\n")
    done = subprocess.run([gnuplot, gp], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"chart.py: gnuplot failed on {gp}:\n{done.stderr}", file=sys.stderr)
        return False
    return True
