"""Prints bench/run.sh's results (JSON lines) as a table with the ratio rrpcd/mosquitto."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
by = lambda **kw: [r for r in rows if all(r.get(k) == v for k, v in kw.items())]

print("\nrequest/reply (echo devices; rrpcd: signed V1 RRpc over HTTP keep-alive; mosquitto: publish + wait for the echo)")
print(f"{'devices':>7} {'C':>4} | {'calls/s':>20} | {'server CPU us/call':>22} | {'p50 us':>17} | {'p99 us':>17} | {'max us':>17} | driver-bound | errors")
for r in by(mode="reqrep", target="rrpcd"):
    m = by(mode="reqrep", target="broker", devices=r["devices"], concurrency=r["concurrency"])[0]
    pair = lambda k, f="{:.0f}": f"{f.format(m[k])}/{f.format(r[k])} {r[k] / m[k] if m[k] else 0:.2f}x"
    bound = ("mosq " if m["driver_cpu_share"] > 0.9 else "") + ("rrpcd" if r["driver_cpu_share"] > 0.9 else "")
    print(f"{r['devices']:>7} {r['concurrency']:>4} | {pair('calls_per_s'):>20} | {pair('server_cpu_us_per_call', '{:.1f}'):>22} | "
          f"{pair('p50_us'):>17} | {pair('p99_us'):>17} | {pair('max_us'):>17} | {bound or '-':>12} | {m['errors']}/{r['errors']}")
print("  (each cell: mosquitto/rrpcd and the ratio rrpcd/mosquitto; driver-bound: the driver used >90% of a core)")

print("\nidle devices (10,000 logged in and subscribed to their RRPC topic)")
for r in by(mode="idle"):
    name = "mosquitto" if r["target"] == "broker" else "rrpcd"
    print(f"  {name:>9}: RSS/device {r['rss_per_device_bytes']:.0f} B, login of all {r['login_s']:.2f} s, "
          f"idle CPU {100 * r['idle_cpu_share']:.2f}%, RSS {r['rss_kib'] / 1024:.1f} MiB")
m, r = by(mode="idle", target="broker")[0], by(mode="idle", target="rrpcd")[0]
print(f"  ratio rrpcd/mosquitto: RSS/device {r['rss_per_device_bytes'] / m['rss_per_device_bytes']:.2f}x, "
      f"login time {r['login_s'] / m['login_s']:.2f}x")

for t in by(mode="timeout"):
    print(f"\ntimeouts: {t['calls']} calls, Timeout {t['timeout_ms']} ms, TIMEOUT came {t['late_min_ms']:.1f}..{t['late_max_ms']:.1f} ms late "
          f"(p99 {t['late_p99_ms']:.1f}), errors {t['errors']}; rrpcd RSS {t['rss_before_kib']} -> {t['rss_after_kib']} KiB")
for s in by(mode="startup"):
    print(f"start-up RSS of rrpcd: {s['rss_kib'] / 1024:.1f} MiB")
