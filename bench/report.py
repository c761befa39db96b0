"""Prints bench/run.sh's results (JSON lines) as a table with the ratio rrpcd/mosquitto, then
each target of issue 6 with its goal, the figure and whether it is met. With several runs
(`"run"` in each line) every figure is the median of the runs, and ratios are taken per run
(both servers measured in the same run) before the median."""
import json
import statistics
import sys


def soak_report(rrpcd_file, broker_file):
    """The soak: both servers' RSS each minute under the same steady traffic, and its growth
    after the first minutes (the warm-up: caches and the store's pages filling) as a ratio."""
    r, m = json.load(open(rrpcd_file)), json.load(open(broker_file))
    print(f"\nsoak: {r['seconds'] // 60} min of answered async calls at a steady rate, both servers at once")
    print(f"{'':8} | {'calls/s':>8} | {'accepted':>9} | {'refused':>7} | {'answered':>9} | {'CPU us/call':>11} | RSS MiB each minute")
    for name, x in (("rrpcd", r), ("mosquitto", m)):
        rss = " ".join(f"{k / 1024:.1f}" for k in x["rss_kib"])
        print(f"{name:8} | {x['calls_per_s']:8.0f} | {x['accepted']:9} | {x['refused']:7} | {x['answered']:9} | {x['server_cpu_us_per_call']:11.0f} | {rss}")
    warm = min(5, len(r["rss_kib"]) - 1)
    for name, x in (("rrpcd", r), ("mosquitto", m)):
        grew = (x["rss_kib"][-1] - x["rss_kib"][warm]) / 1024
        print(f"{name}: RSS {x['rss_kib'][warm] / 1024:.1f} MiB after {warm} min, {x['rss_kib'][-1] / 1024:.1f} MiB at the end: {grew:+.1f} MiB")
    print(f"rrpcd/mosquitto RSS at the end: {r['rss_kib'][-1] / max(1, m['rss_kib'][-1]):.2f}; refused: {r['refused']}")
    if "first_refusal" in r:
        print(f"first refusal: {r['first_refusal'][:300]}")


def planes_report(results_file):
    """rrpcd with 1 and 2 device planes beside mosquitto (`threads` 0 in the lines), medians of the
    runs; each ratio is taken within a run first."""
    rows = [json.loads(line) for line in open(results_file)]
    runs = sorted({r["run"] for r in rows})
    def one(mode, threads, key, run=None):
        return [r[key] for r in rows if r["mode"] == mode and r["threads"] == threads and (run is None or r["run"] == run)]
    def med_of(mode, threads, key):
        return statistics.median(one(mode, threads, key))
    def ratio(mode, key, a, b):
        return statistics.median(one(mode, a, key, run)[0] / one(mode, b, key, run)[0] for run in runs)
    print(f"\ndevice planes (server.threads), median of {len(runs)} runs; the driver shares the machine's cores")
    print(f"{'':16} | {'calls/s':>9} | {'CPU us/call':>11} | {'p99 us':>8} | {'10k logins TCP s':>16} | {'10k logins TLS s':>16}")
    for t, name in ((0, "mosquitto"), (1, "rrpcd 1 plane"), (2, "rrpcd 2 planes")):
        print(f"{name:16} | {med_of('reqrep', t, 'calls_per_s'):9.0f} | {med_of('reqrep', t, 'server_cpu_us_per_call'):11.1f} | "
              f"{med_of('reqrep', t, 'p99_us'):8.0f} | {med_of('idle', t, 'login_s'):16.2f} | {med_of('idle_tls', t, 'login_s'):16.2f}")
    for t in (1, 2):
        print(f"rrpcd {t}/mosquitto: calls/s {ratio('reqrep', 'calls_per_s', t, 0):.2f}x, CPU/call {ratio('reqrep', 'server_cpu_us_per_call', t, 0):.2f}x, "
              f"TCP logins {ratio('idle', 'login_s', t, 0):.2f}x, TLS logins {ratio('idle_tls', 'login_s', t, 0):.2f}x (time)")
    print(f"rrpcd 2/1 planes: calls/s {ratio('reqrep', 'calls_per_s', 2, 1):.2f}x, CPU/call {ratio('reqrep', 'server_cpu_us_per_call', 2, 1):.2f}x, "
          f"TCP logins {ratio('idle', 'login_s', 2, 1):.2f}x, TLS logins {ratio('idle_tls', 'login_s', 2, 1):.2f}x (time)")


if sys.argv[1] == "--soak":
    soak_report(sys.argv[2], sys.argv[3])
    sys.exit(0)
if sys.argv[1] == "--planes":
    planes_report(sys.argv[2])
    sys.exit(0)

rows = [json.loads(line) for line in open(sys.argv[1])]
runs = sorted({r.get("run", 0) for r in rows})
by = lambda **kw: [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else 0.0


def cell(mode, target, key, **kw):
    """The median over runs of one figure."""
    return med([r[key] for r in by(mode=mode, target=target, **kw)])


def ratio(mode, key, **kw):
    """The median over runs of rrpcd/mosquitto, each ratio from one run."""
    out = []
    for run in runs:
        r, m = by(mode=mode, target="rrpcd", run=run, **kw), by(mode=mode, target="broker", run=run, **kw)
        if r and m and m[0][key]:
            out.append(r[0][key] / m[0][key])
    return med(out)


if len(runs) > 1:
    print(f"\n(every figure: the median of {len(runs)} runs)")
print("\nrequest/reply (echo devices; rrpcd: signed V1 RRpc over HTTP keep-alive; mosquitto: publish + wait for the echo)")
print(f"{'devices':>7} {'C':>4} | {'calls/s':>20} | {'server CPU us/call':>22} | {'p50 us':>17} | {'p99 us':>17} | {'max us':>17} | driver-bound | errors")
cells = sorted({(r["devices"], r["concurrency"]) for r in by(mode="reqrep", target="rrpcd")})
for d, c in cells:
    kw = dict(devices=d, concurrency=c)
    def pair(k, f="{:.0f}"):
        return f"{f.format(cell('reqrep', 'broker', k, **kw))}/{f.format(cell('reqrep', 'rrpcd', k, **kw))} {ratio('reqrep', k, **kw):.2f}x"
    bound = ("mosq " if cell("reqrep", "broker", "driver_cpu_share", **kw) > 0.9 else "") + \
            ("rrpcd" if cell("reqrep", "rrpcd", "driver_cpu_share", **kw) > 0.9 else "")
    errors = f"{sum(r['errors'] for r in by(mode='reqrep', target='broker', **kw))}/{sum(r['errors'] for r in by(mode='reqrep', target='rrpcd', **kw))}"
    print(f"{d:>7} {c:>4} | {pair('calls_per_s'):>20} | {pair('server_cpu_us_per_call', '{:.1f}'):>22} | "
          f"{pair('p50_us'):>17} | {pair('p99_us'):>17} | {pair('max_us'):>17} | {bound or '-':>12} | {errors}")
print("  (each cell: mosquitto/rrpcd and the ratio rrpcd/mosquitto; driver-bound: the driver used >90% of a core)")

print("\nidle devices (10,000 logged in and subscribed to their RRPC topic)")
for target, name in (("broker", "mosquitto"), ("rrpcd", "rrpcd")):
    print(f"  {name:>9}: RSS/device {cell('idle', target, 'rss_per_device_bytes'):.0f} B, "
          f"login of all {cell('idle', target, 'login_s'):.2f} s, idle CPU {100 * cell('idle', target, 'idle_cpu_share'):.2f}%, "
          f"RSS {cell('idle', target, 'rss_kib') / 1024:.1f} MiB")
print(f"  ratio rrpcd/mosquitto: RSS/device {ratio('idle', 'rss_per_device_bytes'):.2f}x, login time {ratio('idle', 'login_s'):.2f}x")

timeouts = by(mode="timeout")
for t in timeouts:
    print(f"\ntimeouts (run {t.get('run', 0)}): {t['calls']} calls, Timeout {t['timeout_ms']} ms, TIMEOUT came "
          f"{t['late_min_ms']:.1f}..{t['late_max_ms']:.1f} ms late (p99 {t['late_p99_ms']:.1f}), errors {t['errors']}; "
          f"rrpcd RSS {t['rss_before_kib']} -> {t['rss_after_first_kib']} (1st round) -> {t['rss_after_kib']} KiB (2nd)")
sustained = by(mode="sustained", target="rrpcd")
for s in sustained:
    print(f"sustained (run {s.get('run', 0)}): {s['calls']} signed RRpc calls at C={s['concurrency']}, {s['devices']} devices: "
          f"{s['calls_per_s']:.0f}/s, p99 {s['p99_us'] / 1000:.2f} ms, errors {s['errors']}")
startup = med([s["rss_kib"] for s in by(mode="startup")]) / 1024
print(f"start-up RSS of rrpcd: {startup:.1f} MiB")

print("\ntargets (issue 6)")
c64 = lambda d, k: ratio("reqrep", k, devices=d, concurrency=64)
checks = [
    ("server CPU/call, C=64, 20 devices (signed)", "<= 0.7x", c64(20, "server_cpu_us_per_call"), lambda v: v <= 0.7, "{:.2f}x"),
    ("server CPU/call, C=64, 1000 devices (signed)", "<= 0.6x", c64(1000, "server_cpu_us_per_call"), lambda v: v <= 0.6, "{:.2f}x"),
    ("calls/s, lowest ratio of all cells", ">= 1.3x", min(ratio("reqrep", "calls_per_s", devices=d, concurrency=c) for d, c in cells), lambda v: v >= 1.3, "{:.2f}x"),
    ("p99, highest ratio of all cells", "<= 1.0x", max(ratio("reqrep", "p99_us", devices=d, concurrency=c) for d, c in cells), lambda v: v <= 1.0, "{:.2f}x"),
    ("RSS per idle device", "<= 0.6x", ratio("idle", "rss_per_device_bytes"), lambda v: v <= 0.6, "{:.2f}x"),
    ("10k device logins, time", "<= 1.2x", ratio("idle", "login_s"), lambda v: v <= 1.2, "{:.2f}x"),
    ("C=1 p50 (20 devices)", "<= 200 us", cell("reqrep", "rrpcd", "p50_us", devices=20, concurrency=1), lambda v: v <= 200, "{:.0f} us"),
    ("start-up RSS", "<= 10 MB", startup * 1024 * 1024 / 1e6, lambda v: v <= 10, "{:.1f} MB"),
]
if sustained:
    checks.append(("sustained signed RRpc/s (200k calls)", ">= 50000/s", med([s["calls_per_s"] for s in sustained]), lambda v: v >= 50000, "{:.0f}/s"))
    checks.append(("sustained p99", "<= 2 ms", med([s["p99_us"] for s in sustained]) / 1000, lambda v: v <= 2, "{:.2f} ms"))
    checks.append(("sustained errors", "0", sum(s["errors"] for s in sustained), lambda v: v == 0, "{:.0f}"))
if timeouts:
    checks.append(("TIMEOUT lateness (worst of all runs)", "0..20 ms", max(t["late_max_ms"] for t in timeouts),
                   lambda v: min(t["late_min_ms"] for t in timeouts) >= 0 and v <= 20, "{:.1f} ms"))
    checks.append(("RSS growth of a 2nd round of timeouts", "<= 0",
                   max(t["rss_after_kib"] - t["rss_after_first_kib"] for t in timeouts), lambda v: v <= 0, "{:+.0f} KiB"))
for name, goal, value, ok, f in checks:
    print(f"  {name:<48} goal {goal:<14} now {f.format(value):<12} {'met' if ok(value) else 'NOT met'}")
