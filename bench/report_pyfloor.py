"""The Python floor section of docs/benchmarks.md and issue #27's targets.

bench/pyfloor.sh leaves RUN_DIR/pyfloor.tsv: for each Python workload the
CPU µs per call of its app called in-process in a loop, inside a gowsgi
worker ("gowsgi", the CPython build gowsgi embeds) and under the plain
interpreter the peers run on ("python"). Beside them this puts gowsgi's
CPU µs per request from the pinned run, as the Go floor is put beside it
for the wire: what gowsgi spends beyond the app's own work.
"""

import os

# report.py imports this module from its main; by then report (imported
# here by name, as a module of its own) is complete.
from report import SUBJECT, fmt, fmt_ratio, load_rows, med, num

GTHREAD = "gunicorn-gthread"


def load(run_dir):
    """{workload: {"gowsgi": µs, "python": µs}}: medians over the rounds."""
    path = os.path.join(run_dir, "pyfloor.tsv")
    if not os.path.exists(path):
        return {}
    vals = {}
    for r in load_rows(path):
        v = num(r.get("us_per_call"))
        if v is not None:
            vals.setdefault(r["workload"], {}).setdefault(r["where"], []).append(v)
    return {wl: {w: med(v) for w, v in d.items()} for wl, d in vals.items()}


def section(results, floors):
    """The table: one row per CPU mode and workload with a floor."""
    if not floors:
        return []
    out = ["### Distance to the Python floor (the app called in-process in a loop)", "",
           "The Python floor is the CPU per call of the workload's app called in a loop with a "
           "prepared environ (`bench/pyfloor.py`), inside a gowsgi worker (the CPython build gowsgi "
           "embeds) and under the plain interpreter the peers run on; medians of "
           "`bench/pyfloor.sh`'s rounds.", "",
           "| CPU mode | workload | gowsgi CPU µs/req | floor in a gowsgi worker µs/call "
           "| floor under the interpreter µs/call | gowsgi ÷ its floor | gowsgi − its floor µs "
           "| gunicorn-gthread CPU µs/req |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for cm, res in results.items():
        for wl, mode in res.cases():
            if mode != "ka" or wl not in floors:
                continue
            g = res.cpu_us_per_req(wl, mode, SUBJECT)
            fw, fp = floors[wl].get("gowsgi"), floors[wl].get("python")
            ratio = None if g is None or not fw else g / fw
            diff = "n/a" if g is None or fw is None else f"{g - fw:+.1f}"
            out.append(f"| {cm} | {wl} | {fmt(g, 1)} | {fmt(fw, 2)} | {fmt(fp, 2)} | {fmt_ratio(ratio)} "
                       f"| {diff} | {fmt(res.cpu_us_per_req(wl, mode, GTHREAD), 1)} |")
    return out


def target_rows(res, floors):
    """(target, measured, met, note) for issue #27's targets in one CPU mode."""
    rows = []

    def to_floor(wl, want):
        g = res.cpu_us_per_req(wl, "ka", SUBJECT)
        f = floors.get(wl, {}).get("gowsgi")
        label = f"{wl}: gowsgi CPU per request ≤ {want}× its Python floor"
        if g is None or not f:
            rows.append((label, "n/a", None, None))
            return
        r = g / f
        shown = f"{r:.2f}"
        if float(shown) == want and r != want:
            shown = f"{r:.3f}"  # 1.503 is no 1.50
        rows.append((label, f"{shown}× ({g:.1f} vs {f:.1f} µs)", r <= want, None))

    to_floor("flask", 1.5)
    to_floor("django", 1.5)
    rr = res.round_ratios("django", "ka", GTHREAD)
    m = med(rr.values())
    rows.append(("django vs gunicorn-gthread ≥ 2× (req/s)", fmt_ratio(m), None if m is None else m >= 2, None))
    h = res.cpu_us_per_req("hello", "ka", SUBJECT)
    rows.append(("hello keep-alive: gowsgi CPU per request ≤ 7.5 µs", "n/a" if h is None else f"{h:.1f} µs",
                 None if h is None else h <= 7.5, None))
    return rows


def targets_section(results, floors):
    modes = [m for m in ("pinned", "shared") if m in results]
    if not modes or not floors:
        return []
    per_mode = {m: target_rows(results[m], floors) for m in modes}
    out = ["### Targets (issue #27; the pinned column is the one that counts)", "",
           "| target | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    verdict = {True: "met", False: "**missed**", None: "not measured"}
    for i, (label, _, _, _) in enumerate(per_mode[modes[0]]):
        cells = [f"{per_mode[m][i][1]} — {verdict[per_mode[m][i][2]]}" for m in modes]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def render(run_dir, results):
    floors = load(run_dir)
    out = targets_section(results, floors)
    if out:
        out.append("")
    out += section(results, floors)
    return out + [""] if out else []

