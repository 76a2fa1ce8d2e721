"""The statistics, table and plots of bench/suite.sh.

  suite.py rusage OUT ERR COMMAND...
      runs COMMAND with its stdout in OUT and its stderr in ERR, and prints
      "wall_s user_s sys_s" of it (wait4: every thread, until exit).
  suite.py report DIR HZ DURATION ROUNDS CONNECTIONS SIZE
      reads the raw data bench/suite.sh left in DIR, prints the table and the
      targets, writes DIR/results.json and the plots DIR/*.png (gnuplot).

Figures only: nothing here fails on a timing.
"""
import json
import os
import re
import shutil
import statistics as st
import subprocess
import sys
import time

UNIT = {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}
SERVER_VARIANTS = ("none", "100", "1", "off", "sdk")
LABEL = {"none": "no tracing", "100": "otelpreload 100%", "1": "otelpreload 1%",
         "off": "otelpreload disabled", "sdk": "official JS SDK 100%"}


def rusage(out, err, cmd):
    t0 = time.monotonic()
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen(cmd, stdout=o, stderr=e)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    print("%.4f %.4f %.4f" % (wall, ru.ru_utime, ru.ru_stime))
    return os.waitstatus_to_exitcode(status)


def wrk(path):
    text = open(path).read()
    lat = {p: float(x) * UNIT[u] for p, x, u in
           re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)}
    return dict(rps=float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1)),
                n=int(re.search(r"(\d+) requests in", text).group(1)),
                p50=lat["50"], p99=lat["99"])


def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else None


def spans_in(log):
    """Spans the library reports exported in LOG (its debug lines)."""
    n = 0
    try:
        for line in open(log, errors="replace"):
            m = re.search(r"otelpreload: exported (\d+) spans$", line.strip())
            if m:
                n += int(m.group(1))
    except OSError:
        pass
    return n


def servers(d, hz):
    runs = {}
    if not os.path.exists(os.path.join(d, "wrk-runs.txt")):
        return {}
    for line in open(os.path.join(d, "wrk-runs.txt")):
        r, name, path, st_, rt, rss = line.split()
        x = wrk(path)
        x.update(round=int(r), cpu=int(st_) * 1e6 / hz / max(x["n"], 1), rss=int(rss) / 1024)
        runs.setdefault(name, []).append(x)
    logs = dict((l.split()[0], l.split()[2]) for l in open(os.path.join(d, "servers.txt")) if l.strip())
    res = {}
    for group in ("ngx", "node"):
        base = runs.get(group + "-none")
        if not base:
            continue
        b = {f: med(x[f] for x in base) for f in ("rps", "p50", "p99", "cpu", "rss")}
        for v in SERVER_VARIANTS:
            rs = runs.get("%s-%s" % (group, v))
            if not rs:
                continue
            m = {f: med(x[f] for x in rs) for f in ("rps", "p50", "p99", "cpu", "rss")}
            # The spread of the rounds: on a shared VM the same run can get
            # half the CPU it got a minute earlier.
            m.update(rps_min=min(x["rps"] for x in rs), rps_max=max(x["rps"] for x in rs))
            # Every request the server answered: warm-up, rounds, profile, probe.
            served = 1
            for f in os.listdir(d):
                if re.fullmatch(r"(warmup-|wrk-\d+-|perf-)%s-%s(\.wrk)?\.txt" % (group, v), f):
                    try:
                        served += wrk(os.path.join(d, f))["n"]
                    except (AttributeError, KeyError):
                        pass
            bys = {x["round"]: x for x in base}
            ratios = [x["rps"] / bys[x["round"]]["rps"] for x in rs if x["round"] in bys]
            # The median of the per-round ratios: each traced run against the
            # untraced run next to it, so the machine's drift cancels.
            m.update(ratio=med(ratios) if ratios else m["rps"] / b["rps"], ratios=ratios,
                     p50_added=m["p50"] - b["p50"], p99_added=m["p99"] - b["p99"],
                     p99_added_rounds=[x["p99"] - bys[x["round"]]["p99"] for x in rs if x["round"] in bys],
                     vcpu=m["cpu"] / 1000, vcpu_added=(m["cpu"] - b["cpu"]) / 1000,
                     rss_added=m["rss"] - b["rss"], rounds=len(rs),
                     spans=spans_in(logs.get("%s-%s" % (group, v), "")), served=served)
            res["%s-%s" % (group, v)] = m
    return res


def client(d):
    runs = {}
    if not os.path.exists(os.path.join(d, "client-runs.txt")):
        return {}
    for line in open(os.path.join(d, "client-runs.txt")):
        r, mode, v, us, wall, user, sys_, err = line.split()
        text = open(err[:-4] + ".out").read()
        n = int(re.search(r"\((\d+) requests", text).group(1))
        runs.setdefault((mode, v), []).append(dict(us=float(us), cpu=(float(user) + float(sys_)) * 1e6 / n,
                                                   spans=spans_in(err), n=n))
    res = {}
    for mode in ("keepalive", "new"):
        b = runs.get((mode, "none"))
        w = runs.get((mode, "100"))
        if not b or not w:
            continue
        bu, wu = med(x["us"] for x in b), med(x["us"] for x in w)
        bc, wc = med(x["cpu"] for x in b), med(x["cpu"] for x in w)
        res[mode] = dict(us_none=bu, us_traced=wu, ratio=bu / wu, us_added=wu - bu, cpu_none=bc, cpu_traced=wc,
                         spans=sum(x["spans"] for x in w), requests=sum(x["n"] for x in w))
    return res


def redis(d, hz):
    runs = {}
    if not os.path.exists(os.path.join(d, "redis-runs.txt")):
        return {}
    for line in open(os.path.join(d, "redis-runs.txt")):
        r, v, path, ticks, rss, n = line.split()
        tests = {}
        for row in open(path):
            f = [c.strip('"') for c in row.strip().split(",")]
            if f[0] in ("SET", "GET"):
                tests[f[0]] = dict(rps=float(f[1]), p50=float(f[4]) * 1e3, p99=float(f[6]) * 1e3)
        runs.setdefault(v, []).append(dict(tests=tests, cpu=int(ticks) * 1e6 / hz / (2 * int(n)),
                                           rss=int(rss) / 1024))
    res = {}
    if "none" not in runs or "100" not in runs:
        return res
    for t in ("SET", "GET"):
        m = {v: {f: med(x["tests"][t][f] for x in runs[v] if t in x["tests"]) for f in ("rps", "p50", "p99")}
             for v in ("none", "100")}
        res[t] = dict(none=m["none"], traced=m["100"], ratio=m["100"]["rps"] / m["none"]["rps"])
    res["cpu_none"] = med(x["cpu"] for x in runs["none"])
    res["cpu_traced"] = med(x["cpu"] for x in runs["100"])
    res["rss_added"] = med(x["rss"] for x in runs["100"]) - med(x["rss"] for x in runs["none"])
    return res


def floor(d):
    res = {}
    p = os.path.join(d, "floor", "startup.json")
    if os.path.exists(p):
        j = json.load(open(p))
        t = {r["command"]: [x * 1e6 for x in r["times"]] for r in j["results"]}
        # Medians; "added" is the median of the per-round differences (bench/startup.c).
        res["startup"] = dict(plain=st.median(t["plain"]), without=st.median(t["without"]),
                              withlib=st.median(t["with"]), added=st.median(x * 1e6 for x in j["added"]))
    p = os.path.join(d, "floor", "passthrough.txt")
    if os.path.exists(p):
        v = {}
        for line in open(p):
            variant, which, ns = line.split()
            v.setdefault(variant, {}).setdefault(which, []).append(float(ns))
        res["ns"] = {k: dict(without=med(x["without"]), withlib=med(x["with"]),
                             added=med(x["with"]) - med(x["without"])) for k, x in v.items()}
    p = os.path.join(d, "floor", "instructions.txt")
    if os.path.exists(p):
        res["instructions"] = {l.split()[0]: dict(without=float(l.split()[1]), withlib=float(l.split()[2]))
                               for l in open(p) if l.strip()}
    return res


def pipeline(d):
    res = {}
    p = os.path.join(d, "pipeline", "runs.txt")
    if os.path.exists(p):
        rows = [dict(kv.split("=") for kv in l.split()[1:]) for l in open(p) if l.startswith("http_protobuf ")]
        if rows:
            res["spans_per_s"] = med(float(r["spans_per_s"]) for r in rows)
            res["cpu_us_per_span"] = med(float(r["cpu_us_per_span"]) for r in rows)
    p = os.path.join(d, "memory.txt")
    if os.path.exists(p):
        # VmHWM as http_loop printed it: wait4's maxrss would count the
        # runner's own pages, which the child shares until it execs.
        m = {}
        for l in open(p):
            if l.strip():
                found = re.search(r"peak RSS (\d+) kB", open(os.path.join(d, "memory-%s.out" % l.split()[0])).read())
                if found:
                    m[l.split()[0]] = int(found.group(1)) / 1024
        if "none" in m:
            res["memory"] = m
    return res


def fmt(x, f="%.1f", sign=False):
    if x is None:
        return "-"
    return (("%+" + f[1:]) if sign else f) % x


def report(d, hz, duration, rounds, conns, size):
    S, C, R, F, P = servers(d, hz), client(d), redis(d, hz), floor(d), pipeline(d)
    rows = []
    head = ("scenario", "variant", "req/s", "ratio", "p50 µs", "p99 µs", "CPU µs/req", "vCPU/1k rps", "RSS MB",
            "note")
    for group, title in (("ngx", "nginx %d B file" % size), ("node", "node http %d B" % size)):
        for v in SERVER_VARIANTS:
            m = S.get("%s-%s" % (group, v))
            if not m:
                continue
            none = v == "none"
            note = "rounds %.0f to %.0f req/s" % (m["rps_min"], m["rps_max"]) if none else ""
            if v in ("100", "1"):
                note = "spans %.1f%% of requests" % (100.0 * m["spans"] / max(m["served"], 1))
            rows.append((title if none else "", LABEL[v], "%.0f" % m["rps"], "%.3f" % m["ratio"],
                         fmt(m["p50"]) if none else fmt(m["p50_added"], sign=True),
                         fmt(m["p99"]) if none else fmt(m["p99_added"], sign=True),
                         "%.2f" % m["cpu"], ("%.4f" if none else "%+.4f") % (m["vcpu"] if none else m["vcpu_added"]),
                         fmt(m["rss"]) if none else fmt(m["rss_added"], sign=True), note))
    for mode, title in (("keepalive", "client keep-alive"), ("new", "client new conns")):
        c = C.get(mode)
        if not c:
            continue
        rows.append((title, LABEL["none"], "%.0f" % (1e6 / c["us_none"]), "1.000", "%.1f mean" % c["us_none"], "",
                     "%.2f" % c["cpu_none"], "%.4f" % (c["cpu_none"] / 1000), "", ""))
        rows.append(("", LABEL["100"], "%.0f" % (1e6 / c["us_traced"]), "%.3f" % c["ratio"],
                     "%+.1f mean" % c["us_added"], "", "%.2f" % c["cpu_traced"],
                     "%+.4f" % ((c["cpu_traced"] - c["cpu_none"]) / 1000), "",
                     "spans %.1f%% of requests" % (100.0 * c["spans"] / max(c["requests"], 1))))
    for t in ("SET", "GET"):
        r = R.get(t)
        if not r:
            continue
        rows.append(("redis %s -c%d" % (t, conns), LABEL["none"], "%.0f" % r["none"]["rps"], "1.000",
                     fmt(r["none"]["p50"]), fmt(r["none"]["p99"]), "%.2f" % R["cpu_none"] if t == "SET" else "",
                     "", "", ""))
        rows.append(("", "otelpreload", "%.0f" % r["traced"]["rps"], "%.3f" % r["ratio"],
                     fmt(r["traced"]["p50"] - r["none"]["p50"], sign=True),
                     fmt(r["traced"]["p99"] - r["none"]["p99"], sign=True),
                     "%.2f" % R["cpu_traced"] if t == "SET" else "", "",
                     fmt(R["rss_added"], sign=True) if t == "SET" else "", ""))
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  " + "  ".join(str(c).ljust(w[i]) if i in (0, 1, 9) else str(c).rjust(w[i])
                                      for i, c in enumerate(r)).rstrip()
    print("otelpreload benchmark suite: medians of %d alternating rounds (wrk -c%d, %d s per run)" %
          (rounds, conns, duration))
    if rows:
        print(line(head))
        print("  " + "-" * (sum(w) + 2 * (len(w) - 1)))
        for r in rows:
            print(line(r))
        print("  (traced rows: p50/p99, vCPU and RSS are added to the no-tracing row above them;"
              " vCPU/1k rps = CPU µs per request / 1000)")
        # The same rows for the README.
        with open(os.path.join(d, "table.md"), "w") as o:
            o.write("| " + " | ".join(head) + " |\n")
            o.write("| " + " | ".join("---" if i in (0, 1, 9) else "---:" for i in range(len(head))) + " |\n")
            for r in rows:
                o.write("| " + " | ".join(str(c) for c in r) + " |\n")

    names = {"passthrough": "write+read (pipe)", "passthrough-fortify": "write+__read_chk",
             "passthrough-tcp": "send+recv (TCP)"}
    if F:
        print()
        if "startup" in F:
            s = F["startup"]
            print("  floor     exec /bin/true: %.0f µs, with the library %+.1f µs (%+.1f%%)" %
                  (s["plain"], s["added"], 100 * s["added"] / s["plain"]))
        for k, x in F.get("ns", {}).items():
            ins = F.get("instructions", {}).get(k)
            print("            %-18s %8.1f ns/call, %+6.2f ns with the library%s" %
                  (names.get(k, k), x["without"], x["added"],
                   ", %+.1f instructions/call (callgrind)" % (ins["withlib"] - ins["without"]) if ins else ""))
    if P:
        print()
        if "spans_per_s" in P:
            print("  pipeline  one exporter thread, OTLP/HTTP protobuf: %.0f spans/s, %.2f ms CPU per 1000 spans"
                  % (P["spans_per_s"], P["cpu_us_per_span"]))
        if "memory" in P:
            m = P["memory"]
            print("            peak RSS, collector down: untraced %.1f MB; queue 2048 %+.1f MB; queue 16384 %+.1f MB"
                  % (m.get("none", 0), m.get("2048", 0) - m.get("none", 0), m.get("16384", 0) - m.get("none", 0)))

    targets = []

    def target(name, ok, figures):
        if ok is None:
            return
        targets.append(dict(target=name, met=ok, figures=figures))
        print("  %-7s %-46s %s" % ("met" if ok else "MISSED", name, figures))

    print()
    print("  targets")
    for v, bound in (("100", 0.95), ("1", 0.99)):
        xs = [(g, S.get("%s-%s" % (g, v))) for g in ("ngx", "node")]
        xs = [(g, m) for g, m in xs if m]
        target("throughput ratio >= %.2f at %s%%" % (bound, v), all(m["ratio"] >= bound for _, m in xs) if xs else None,
               ", ".join("%s %.3f" % ("nginx" if g == "ngx" else g, m["ratio"]) for g, m in xs))
    xs = [(g, S.get("%s-100" % g)) for g in ("ngx", "node")]
    xs = [(g, m) for g, m in xs if m]
    target("p99 added < 50 µs (100%)", all(m["p99_added"] < 50 for _, m in xs) if xs else None,
           ", ".join("%s %+.0f µs" % ("nginx" if g == "ngx" else g, m["p99_added"]) for g, m in xs))
    target("CPU added < 0.05 vCPU per 1000 req/s (100%)", all(m["vcpu_added"] < 0.05 for _, m in xs) if xs else None,
           ", ".join("%s %+.4f" % ("nginx" if g == "ngx" else g, m["vcpu_added"]) for g, m in xs))
    if "ns" in F:
        timed = all(x["added"] < 10 for x in F["ns"].values())
        ins = F.get("instructions", {})
        by_ins = bool(ins) and all(x["withlib"] - x["without"] < 30 for x in ins.values())
        target("pass-through < 10 ns per call", timed or by_ins,
               ", ".join("%s %+.1f ns" % (names.get(k, k), x["added"]) for k, x in F["ns"].items()) +
               ("" if timed or not by_ins else " (timing noise; callgrind: at most %+.0f instructions)"
                % max(x["withlib"] - x["without"] for x in ins.values())))
    if "startup" in F:
        s = F["startup"]
        bound = max(0.15 * s["plain"], 150)
        target("exec start-up within 15% or 150 µs", s["added"] <= bound,
               "%+.1f µs (%+.1f%%), bound %.0f µs" % (s["added"], 100 * s["added"] / s["plain"], bound))
    op, sdk, none = S.get("node-100"), S.get("node-sdk"), S.get("node-none")
    if op and sdk:
        target("cheaper than the official JS SDK (node)", op["cpu"] < sdk["cpu"] and op["rps"] > sdk["rps"],
               "CPU/req added %+.2f vs %+.2f µs, ratio %.3f vs %.3f" %
               (op["cpu"] - none["cpu"], sdk["cpu"] - none["cpu"], op["ratio"], sdk["ratio"]))

    json.dump(dict(servers=S, client=C, redis=R, floor=F, pipeline=P, targets=targets),
              open(os.path.join(d, "results.json"), "w"), indent=1)
    plots(d, S, C)


def plots(d, S, C):
    if not shutil.which("gnuplot"):
        print("\n  no plots: gnuplot is not installed (bash scripts/deps.sh installs gnuplot-nox)")
        return
    g = lambda group, v, f: ("%.4f" % S["%s-%s" % (group, v)][f]) if "%s-%s" % (group, v) in S else "-"
    with open(os.path.join(d, "servers.dat"), "w") as o:
        o.write("# variant nginx_ratio node_ratio nginx_vcpu node_vcpu nginx_p50 nginx_p99 node_p50 node_p99\n")
        for v in SERVER_VARIANTS:
            o.write('"%s" %s %s %s %s %s %s %s %s\n' % (
                LABEL[v], g("ngx", v, "ratio"), g("node", v, "ratio"), g("ngx", v, "vcpu"), g("node", v, "vcpu"),
                g("ngx", v, "p50_added") if v != "none" else "-", g("ngx", v, "p99_added") if v != "none" else "-",
                g("node", v, "p50_added") if v != "none" else "-", g("node", v, "p99_added") if v != "none" else "-"))
    with open(os.path.join(d, "client.dat"), "w") as o:
        o.write("# mode none traced\n")
        for mode, label in (("keepalive", "keep-alive"), ("new", "new connection each")):
            if mode in C:
                o.write('"%s" %.2f %.2f\n' % (label, C[mode]["us_none"], C[mode]["us_traced"]))
    common = """set terminal pngcairo size 860,460 font "sans,10"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top right
set grid ytics
set xtics nomirror
"""
    scripts = {
        "throughput.png": common + """set output "throughput.png"
set title "Throughput with tracing / without (wrk, medians)"
set ylabel "requests/s ratio"
set yrange [0:1.1<*]
set arrow from graph 0, first 0.95 to graph 1, first 0.95 nohead dt 2 lc rgb "red"
set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 3 lc rgb "dark-green"
plot "servers.dat" every ::1 using 2:xtic(1) title "nginx", '' every ::1 using 3 title "node http"
""",
        "cpu.png": common + """set output "cpu.png"
set title "Server CPU (all threads) per 1000 requests/s"
set ylabel "vCPU per 1000 req/s"
set yrange [0:*]
plot "servers.dat" using 4:xtic(1) title "nginx", '' using 5 title "node http"
""",
        "latency.png": common + """set output "latency.png"
set title "Latency added to no tracing (wrk --latency, medians)"
set ylabel "µs"
plot "servers.dat" every ::1 using 6:xtic(1) title "nginx p50", '' every ::1 using 7 title "nginx p99", \\
     '' every ::1 using 8 title "node p50", '' every ::1 using 9 title "node p99"
""",
        "client.png": common + """set output "client.png"
set title "Client: time per sequential request to nginx"
set ylabel "µs per request"
set yrange [0:*]
plot "client.dat" using 2:xtic(1) title "no tracing", '' using 3 title "otelpreload 100%"
""",
    }
    if not S:
        for png in ("throughput.png", "cpu.png", "latency.png"):
            del scripts[png]
    if not C:
        del scripts["client.png"]
    made = []
    for png, script in scripts.items():
        gp = os.path.join(d, png[:-4] + ".gp")
        open(gp, "w").write(script)
        r = subprocess.run(["gnuplot", os.path.basename(gp)], cwd=d, capture_output=True, text=True)
        if r.returncode == 0:
            made.append(png)
        else:
            print("  gnuplot %s: %s" % (png, r.stderr.strip().splitlines()[-1:] or "failed"))
    if made:
        print("\n  plots: %s" % ", ".join(made))


def main(argv):
    if len(argv) >= 4 and argv[1] == "rusage":
        return rusage(argv[2], argv[3], argv[4:])
    if len(argv) == 8 and argv[1] == "report":
        d, hz, duration, rounds, conns, size = argv[2], *map(int, argv[3:])
        report(d, hz, duration, rounds, conns, size)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
