#!/usr/bin/python3
"""The results section of docs/benchmarks.md, and its charts, from one run.

usage: bench/report.py RUN_DIR [--docs DOCS_DIR]

RUN_DIR is what bench/run.sh leaves: meta.txt, gobench.txt and one peers.sh
results folder per CPU mode (pinned/, shared/). Without --docs the markdown
goes to stdout. With --docs, the text between the two marker lines
(RESULTS_BEGIN / RESULTS_END below) of DOCS_DIR/benchmarks.md is replaced,
so the hand-written analysis around it stays; the file is created with just
the markers when missing. Charts: DOCS_DIR/benchmarks-<cpu mode>.png.

Every ratio is gowsgi's req/s over the peer's, taken within one round (both
ran minutes apart at most), then the median over the rounds: a noisy
machine then moves both sides of each ratio alike.
"""

import os
import re
import statistics
import sys
from collections import defaultdict

import chart

RESULTS_BEGIN = "<!-- bench/report.py: results begin -->"
RESULTS_END = "<!-- bench/report.py: results end -->"

SUBJECT = "gowsgi"
FLOOR = "floor"
WORKLOAD_ORDER = ["hello", "big", "bigfile", "chunks", "upload", "sleepy", "flask", "django", "tls-ecdsa", "tls-rsa",
                  "asgi-hello", "asgi-fastapi", "asgi-stream", "asgi-ws"]
MODE_TITLE = {"ka": "keep-alive", "close": "Connection: close"}


def case_title(wl, mode):
    """How a (workload, client mode) case is named in headings: a TLS
    workload's close mode is a new connection and full handshake per
    request (bench/tlsload), not wrk's Connection: close."""
    if wl.startswith("tls-") and mode == "close":
        return "a new TLS connection per request (full handshake, bench/tlsload)"
    if wl == "asgi-ws":
        return "WebSocket echo, messages per second (bench/wsload)"
    return MODE_TITLE.get(mode, mode)


CPU_MODE_TITLE = {
    "pinned": "pinned (server process tree on CPU 0, wrk on CPU 1)",
    "shared": "shared (server and wrk on both CPUs)",
}
SERVER_ORDER = [SUBJECT, FLOOR, "gunicorn-sync", "gunicorn-gthread",
                "uwsgi-http11", "uwsgi-http", "waitress", "nginx-gowsgi", "uvicorn", "hypercorn"]
MIB = 1024.0


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=0):
    if x is None:
        return "n/a"
    return f"{x:,.{nd}f}"


def fmt_ms(x):
    if x is None:
        return "n/a"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def pct(x):
    return "n/a" if x is None else f"{x:.0f}%"


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}×"


def load_rows(path):
    import csv
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


class Results:
    """The rows of one CPU mode, grouped by (workload, mode, server)."""

    def __init__(self, rows):
        self.groups = defaultdict(list)
        for r in rows:
            self.groups[(r["workload"], r["mode"], r["server"])].append(r)

    def cases(self):
        """(workload, mode) pairs present, in report order."""
        keys = {(w, m) for w, m, _ in self.groups}
        order = {w: i for i, w in enumerate(WORKLOAD_ORDER)}
        return sorted(keys, key=lambda k: (order.get(k[0], 99), k[0], k[1] != "ka"))

    def servers(self, wl, mode):
        present = {s for w, m, s in self.groups if (w, m) == (wl, mode)}
        order = {s: i for i, s in enumerate(SERVER_ORDER)}
        return sorted(present, key=lambda s: (order.get(s, 99), s))

    def rows(self, wl, mode, server):
        return self.groups.get((wl, mode, server), [])

    def by_round(self, wl, mode, server, field="rps"):
        return {r["round"]: num(r[field]) for r in self.rows(wl, mode, server)}

    def median(self, wl, mode, server, field="rps"):
        return med(num(r[field]) for r in self.rows(wl, mode, server))

    def cpu_us_per_req(self, wl, mode, server):
        vals = []
        for r in self.rows(wl, mode, server):
            c, n = num(r["srv_cpu_s"]), num(r["requests"])
            if c is not None and n:
                vals.append(c / n * 1e6)
        return med(vals)

    def round_ratios(self, wl, mode, peer):
        """gowsgi/peer req/s per round, for the rounds both ran; a peer under
        1 req/s (wrk could not count its responses) has no ratio."""
        a, b = self.by_round(wl, mode, SUBJECT), self.by_round(wl, mode, peer)
        return {k: a[k] / b[k] for k in sorted(a, key=int) if a[k] and (b.get(k) or 0) >= 1}

    def unanswered(self, wl, mode, server):
        """The most clients the server left waiting over a second for a
        first answer, over its runs (peers.sh samples it near each run's
        end); None for results recorded before peers.sh counted them."""
        vals = [num(r.get("unanswered")) for r in self.rows(wl, mode, server)]
        vals = [v for v in vals if v is not None]
        return max(vals) if vals else None

    def peers(self, wl, mode, answering_only=False):
        """The peers that ran the case (the floor is no peer); with
        answering_only, those that left no client unanswered."""
        out = [s for s in self.servers(wl, mode) if s not in (SUBJECT, FLOOR)]
        if answering_only:
            out = [s for s in out if not self.unanswered(wl, mode, s)]
        return out

    def best_peer_ratios(self, wl, mode, subject=SUBJECT, answering_only=False):
        """subject (gowsgi, or the floor) over the fastest peer of each round;
        with answering_only, the fastest that left no client unanswered."""
        peers = self.peers(wl, mode, answering_only)
        mine = self.by_round(wl, mode, subject)
        out = {}
        for rnd, v in mine.items():
            best = max((self.by_round(wl, mode, p).get(rnd) or 0 for p in peers), default=0)
            if v and best:
                out[rnd] = v / best
        return out

    def wrk_core_pct(self, wl, mode, server):
        """wrk's CPU time over the run's wall time, in % of one core (wrk
        runs -t2: on the one core it has when pinned, 100% is all of it)."""
        vals = []
        for r in self.rows(wl, mode, server):
            c, e = num(r.get("wrk_cpu_s")), num(r.get("elapsed_s"))
            if c is not None and e:
                vals.append(c / e * 100)
        return med(vals)


def server_table(res, wl, mode):
    out = [
        "| server | req/s median [min–max] | p50 ms | p99 ms | errors | CPU µs/req "
        "| peak RSS MiB (tree) | peak PSS MiB (tree) | worker RSS MiB | clients unanswered "
        "| gowsgi ÷ server, per round (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in res.servers(wl, mode):
        rows = res.rows(wl, mode, s)
        rps = [num(r["rps"]) for r in rows if num(r["rps"]) is not None]
        errs = sum(int(num(r[k]) or 0) for r in rows
                   for k in ("err_connect", "err_read", "err_write", "err_timeout", "non2xx"))
        rng = f" [{fmt(min(rps))}–{fmt(max(rps))}]" if rps else ""
        ratios = ""
        if rps and max(rps) < 1:
            ratios = "wrk counted (almost) no complete response (see Method)"
        elif s != SUBJECT:
            rr = res.round_ratios(wl, mode, s)
            if rr:
                ratios = " ".join(f"{v:.2f}" for v in rr.values()) + f" (**{fmt_ratio(med(rr.values()))}**)"
        mem = [res.median(wl, mode, s, f) for f in ("rss_peak_kb", "pss_peak_kb", "worker_rss_peak_kb")]
        out.append(
            f"| {s} | {fmt(med(rps))}{rng} | {fmt_ms(res.median(wl, mode, s, 'p50_ms'))} "
            f"| {fmt_ms(res.median(wl, mode, s, 'p99_ms'))} | {errs} "
            f"| {fmt(res.cpu_us_per_req(wl, mode, s), 1)} | "
            + " | ".join(fmt(m / MIB if m else None, 1) for m in mem)
            + f" | {fmt(res.unanswered(wl, mode, s))} | {ratios} |")
    return out


def parse_meta(text):
    meta = {}
    for line in text.splitlines():
        k, _, v = line.partition(": ")
        if v:
            meta[k.strip()] = v.strip()
    for k in ("WORKERS", "SLEEPY_THREADS"):
        m = re.search(rf"{k}=(\d+)", text)
        if m:
            meta[k] = int(m.group(1))
    return meta


def target_rows(res, meta):
    """(target, measured, met) for every target of issues #9, #23 and #25."""
    workers, threads = meta.get("WORKERS", 2), meta.get("SLEEPY_THREADS", 8)
    rows = []

    def ratio(label, wl, mode, peer, want):
        rr = res.round_ratios(wl, mode, peer) if peer else res.best_peer_ratios(wl, mode)
        m = med(rr.values())
        notes = [unanswered_note(res, wl, mode, [peer] if peer else res.peers(wl, mode))]
        if not peer:
            notes = [floor_note(res, wl, mode), *notes, answering_note(res, wl, mode)]
        notes = [n for n in notes if n]
        rows.append((f"{label} ≥ {want}×", fmt_ratio(m), None if m is None else m >= want,
                     "; ".join(notes) or None))

    ratio("hello keep-alive vs uwsgi-http11", "hello", "ka", "uwsgi-http11", 2.5)
    ratio("hello keep-alive vs gunicorn-sync", "hello", "ka", "gunicorn-sync", 10)
    ratio("hello Connection: close vs uwsgi-http11", "hello", "close", "uwsgi-http11", 1.5)
    for wl in ("big", "bigfile", "chunks", "upload"):
        ratio(f"{wl} vs the best peer", wl, "ka", None, 2)
    ideal = workers * threads / 0.020
    got = res.median("sleepy", "ka", SUBJECT)
    rows.append((f"sleepy ≥ 90% of ideal {ideal:.0f} req/s ({workers} workers × {threads} threads / 20 ms)",
                 "n/a" if got is None else f"{got:,.0f} req/s = {got / ideal:.0%}",
                 None if got is None else got >= 0.9 * ideal, None))
    ratio("flask vs gunicorn-gthread", "flask", "ka", "gunicorn-gthread", 2)
    mine = res.median("hello", "ka", SUBJECT, "worker_rss_peak_kb")
    theirs = res.median("hello", "ka", "gunicorn-sync", "worker_rss_peak_kb")
    if mine and theirs:
        d = (mine - theirs) / MIB
        rows.append(("hello worker RSS ≤ gunicorn-sync worker + 15 MiB",
                     f"{mine / MIB:.1f} vs {theirs / MIB:.1f} MiB ({d:+.1f})", d <= 15, None))
    else:
        rows.append(("hello worker RSS ≤ gunicorn-sync worker + 15 MiB", "n/a", None, None))
    # Issue #23 (TLS). The new-connection target is on req/s, as the issue
    # says; CPU per connection, steadier on a shared machine, goes with it.
    ratio("TLS hello keep-alive (ECDSA) vs gunicorn-gthread", "tls-ecdsa", "ka", "gunicorn-gthread", 5)
    ratio("TLS new connections/s, ECDSA P-256, vs nginx-gowsgi", "tls-ecdsa", "close", "nginx-gowsgi", 0.8)
    label, measured, met, note = rows[-1]
    rows[-1] = (label, measured, met, "; ".join(n for n in (note, cpu_note(res, "tls-ecdsa", "close", "nginx-gowsgi")) if n) or None)
    # Issue #25 (ASGI): ratios to Uvicorn; CPU per request and RSS go with
    # them (the server tables have every peer's).
    for label, wl, want in (("ASGI hello", "asgi-hello", 3), ("FastAPI JSON", "asgi-fastapi", 1.5),
                            ("WebSocket echo messages/s", "asgi-ws", 2)):
        ratio(f"{label} vs uvicorn", wl, "ka", "uvicorn", want)
        label, measured, met, note = rows[-1]
        rows[-1] = (label, measured, met, "; ".join(
            n for n in (note, cpu_note(res, wl, "ka", "uvicorn", "request" if wl != "asgi-ws" else "message"),
                        rss_note(res, wl, "ka", "uvicorn")) if n) or None)
    return rows


def rss_note(res, wl, mode, peer):
    """Peak RSS of the whole tree and of the largest worker, gowsgi vs peer."""
    vals = [res.median(wl, mode, s, f) for s in (SUBJECT, peer) for f in ("rss_peak_kb", "worker_rss_peak_kb")]
    if None in vals or not all(vals):
        return None
    return (f"peak RSS {vals[0] / MIB:.0f} vs {vals[2] / MIB:.0f} MiB (tree), "
            f"{vals[1] / MIB:.0f} vs {vals[3] / MIB:.0f} MiB (largest worker)")


def cpu_note(res, wl, mode, peer, per="connection"):
    """Server CPU per request of gowsgi and peer, and what it makes of
    one core: 1 s / CPU per request, in requests per second."""
    g, p = res.cpu_us_per_req(wl, mode, SUBJECT), res.cpu_us_per_req(wl, mode, peer)
    if not g or not p:
        return None
    return (f"server CPU per {per} {g:.0f} vs {p:.0f} µs, so one core makes "
            f"{1e6 / g:,.0f} vs {1e6 / p:,.0f} per second = {fmt_ratio(p / g)}")


def floor_note(res, wl, mode):
    """The ceiling of a "vs the best peer" target: the floor's req/s on the
    workload and its own ratio to the best peer (median over rounds), or
    None where the floor did not run."""
    f = res.median(wl, mode, FLOOR)
    if f is None:
        return None
    m = med(res.best_peer_ratios(wl, mode, FLOOR).values())
    return f"floor: {fmt(f)} req/s" + ("" if m is None else f" = {fmt_ratio(m)} the best peer")


def unanswered_note(res, wl, mode, peers):
    """Which of peers left clients waiting for the whole run, if any."""
    left = [(p, res.unanswered(wl, mode, p)) for p in peers]
    left = [f"{p} left {n:.0f} clients unanswered" for p, n in left if n]
    return ", ".join(left) or None


def answering_note(res, wl, mode):
    """The ratio to the best peer that answered every client, where the
    best peer did not."""
    every, answering = res.peers(wl, mode), res.peers(wl, mode, answering_only=True)
    if not answering or every == answering:
        return None
    m = med(res.best_peer_ratios(wl, mode, answering_only=True).values())
    if m is None or fmt_ratio(m) == fmt_ratio(med(res.best_peer_ratios(wl, mode).values())):
        return None  # the best peer answered every client anyway
    return f"vs the best peer that answered every client: {fmt_ratio(m)}"


def targets_section(results, meta):
    modes = [m for m in ("pinned", "shared") if m in results]
    per_mode = {m: target_rows(results[m], meta) for m in modes}
    out = ["### Targets (issues #9, #23 and #25; the pinned column is the one that counts)", "",
           "| target | " + " | ".join(modes) + " |",
           "|---|" + "---|" * len(modes)]
    verdict = {True: "met", False: "**missed**", None: "not measured"}
    for i, (label, _, _, _) in enumerate(per_mode[modes[0]]):
        cells = []
        for m in modes:
            _, measured, met, note = per_mode[m][i]
            cells.append(f"{measured} — {verdict[met]}" + (f" ({note})" if note else ""))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def floor_section(results):
    """gowsgi next to the floor on every workload and client mode the floor
    ran. The floor's req/s is what this machine reaches with no Python at
    all and the same client; where wrk's core is busy all the run (the last
    column near 100% when pinned), wrk is a limit too, whatever the server."""
    out = ["### Distance to the floor (Go canned responder, no Python)", "",
           "| CPU mode | workload | client | gowsgi req/s | floor req/s | gowsgi CPU µs/req "
           "| floor CPU µs/req | gowsgi − floor µs/req | wrk CPU in the floor's run, % of one core |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for cm, res in results.items():
        for wl, mode in res.cases():
            if not res.rows(wl, mode, FLOOR):
                continue
            g, f = res.cpu_us_per_req(wl, mode, SUBJECT), res.cpu_us_per_req(wl, mode, FLOOR)
            d = "n/a" if g is None or f is None else f"{g - f:+.1f}"
            out.append(f"| {cm} | {wl} | {case_title(wl, mode)} | {fmt(res.median(wl, mode, SUBJECT))} "
                       f"| {fmt(res.median(wl, mode, FLOOR))} | {fmt(g, 1)} | {fmt(f, 1)} | {d} "
                       f"| {pct(res.wrk_core_pct(wl, mode, FLOOR))} |")
    return out


def noise_line(rows):
    other, el = [], []
    for r in rows:
        o, e = num(r.get("other_cpu_s")), num(r.get("elapsed_s"))
        if o is not None and e:
            other.append(o / (e * (os.cpu_count() or 1)) * 100)
    if not other:
        return []
    return ["", f"CPU busy outside the server and wrk during a run (kernel softirq, the harness, "
                f"other jobs on the machine), % of all CPUs: median {statistics.median(other):.0f}%, "
                f"max {max(other):.0f}% over {len(other)} runs."]


def gobench_section(path):
    if not os.path.exists(path):
        return []
    lines = [l for l in open(path) if l.startswith(("Benchmark", "pkg:", "goos", "cpu:"))]
    return ["### Hot paths: `go test -run '^$' -bench . -benchmem ./httpparse/ ./wsgi/ ./pyshim/`", "",
            "```", *[l.rstrip() for l in lines if not l.startswith("goos")], "```"]


def render(run_dir, meta_text, results, chart_names):
    meta = parse_meta(meta_text)
    out = [RESULTS_BEGIN, "",
           "*Generated by `make bench` (bench/report.py) from one run; edit the text outside these markers.*", "",
           "```", meta_text.strip(), "```", ""]
    for cm, name in chart_names.items():
        out += [f"![req/s per server, {cm}]({name})", ""]
    out += targets_section(results, meta) + [""] + floor_section(results) + [""]
    import report_pyfloor  # issue #27: the Python floor and its targets
    out += report_pyfloor.render(run_dir, results)
    for cm, res in results.items():
        out += [f"### Results, {CPU_MODE_TITLE.get(cm, cm)}", ""]
        p = os.path.join(run_dir, cm, "meta.txt")
        if os.path.exists(p):
            out += ["```", open(p).read().strip(), "```"]
        for wl, mode in res.cases():
            out += ["", f"#### {wl}, {case_title(wl, mode)}", ""] + server_table(res, wl, mode)
        out += noise_line([r for rows in res.groups.values() for r in rows]) + [""]
    out += gobench_section(os.path.join(run_dir, "gobench.txt")) + ["", RESULTS_END]
    return "\n".join(out) + "\n"


def splice(doc_path, block):
    """Replaces the marked block of doc_path (creating the file if needed)."""
    text = open(doc_path).read() if os.path.exists(doc_path) else f"{RESULTS_BEGIN}\n{RESULTS_END}\n"
    start, end = text.find(RESULTS_BEGIN), text.find(RESULTS_END)
    if start < 0 or end < start:
        sys.exit(f"report.py: {doc_path} lacks the marker lines {RESULTS_BEGIN!r} … {RESULTS_END!r}")
    with open(doc_path, "w") as fh:
        fh.write(text[:start] + block + text[end + len(RESULTS_END) + 1:])


def main(argv):
    args = list(argv)
    docs = None
    if "--docs" in args:
        i = args.index("--docs")
        docs = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    run_dir = args[0]
    results = {}
    for cm in ("pinned", "shared"):
        p = os.path.join(run_dir, cm, "results.tsv")
        if os.path.exists(p):
            results[cm] = Results(load_rows(p))
    if not results:
        sys.exit(f"report.py: no pinned/results.tsv or shared/results.tsv under {run_dir}")
    meta_path = os.path.join(run_dir, "meta.txt")
    meta_text = open(meta_path).read() if os.path.exists(meta_path) else ""
    charts = {}
    if docs:
        os.makedirs(docs, exist_ok=True)
        for cm, res in results.items():
            name = f"benchmarks-{cm}.png"
            if chart.draw(res, cm, os.path.join(docs, name), os.path.join(run_dir, cm)):
                charts[cm] = name
    block = render(run_dir, meta_text, results, charts)
    if docs:
        splice(os.path.join(docs, "benchmarks.md"), block)
        print(f"report.py: wrote {os.path.join(docs, 'benchmarks.md')}", file=sys.stderr)
    else:
        sys.stdout.write(block)


if __name__ == "__main__":
    main(sys.argv[1:])
