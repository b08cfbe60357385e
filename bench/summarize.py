#!/usr/bin/env python3
"""Print the summary table of a bench/http.sh run from its results.jsonl."""
import json
import sys


def ms(us):
    return f"{us / 1000:.2f} ms"


def rss(kb):
    return f"{kb / 1024:.1f} MiB" if kb else "n/a"


def cpu(cpu_s, secs):
    """Server CPU time over the measured window, as cores used (2.00 = two full cores)."""
    if cpu_s is None or not secs:
        return "n/a"
    return f"{cpu_s / secs:.2f} cores"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if not rows:
        print("(no scenario was run)")
        return
    header = ["system", "scenario", "conns", "req/s", "msgs/s", "p50", "p99", "errors", "peak RSS", "server CPU"]
    table = []
    by_key = {}
    notes = []
    for r in rows:
        secs = r["duration_us"] / 1e6
        rps = r["requests"] / secs if secs else 0.0
        ok = r["requests"] - r["non2xx"] - r.get("partial_2xx", 0)
        msgs = ok * r["msgs_per_req"] / secs if secs else 0.0
        partial = r.get("partial_2xx", 0)
        errors = r["non2xx"] + r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"] + partial
        err_txt = str(errors)
        if errors:
            notes.append(f"# {r['system']}/{r['scenario']} errors: non2xx {r['non2xx']}, conn {r['err_connect']}, read {r['err_read']},"
                        f" write {r['err_write']}, timeout {r['err_timeout']}, 2xx listing per-recipient errors {partial}")
        by_key[(r["system"], r["scenario"])] = rps
        table.append([r["system"], r["scenario"], str(r["connections"]), f"{rps:,.0f}", f"{msgs:,.0f}",
                      ms(r["p50_us"]), ms(r["p99_us"]), err_txt, rss(r["peak_rss_kb"]),
                      cpu(r.get("server_cpu_s"), secs)])
    widths = [max(len(row[i]) for row in [header] + table) for i in range(len(header))]
    fmt = lambda row: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(row, widths)))
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(fmt(row))
    for note in notes:
        print(note)
    for r in rows:
        if len(r.get("runs_rps", [])) > 1:
            print(f"# {r['system']}/{r['scenario']}: median of {len(r['runs_rps'])} runs; req/s per run: "
                  + ", ".join(f"{x:,}" for x in r["runs_rps"]))
        if r.get("rss_detail"):
            print(f"# {r['system']} peak RSS = {r['rss_detail']}")
        if r.get("statuses"):
            print(f"# {r['system']}/{r['scenario']} message states after the run (warm-up included): "
                  + ", ".join(f"{k} {v:,}" for k, v in sorted(r["statuses"].items())))
        if "delivered_incl_warmup" in r:
            print(f"# {r['system']}: {r['delivered_incl_warmup']} messages reached the {r['smsc']} SMSC"
                  " (warm-up + measured window)")
    busy = [f"{r['system']}/{r['scenario']} {r['host_busy_before_pct']}%" for r in rows
            if r.get("host_busy_before_pct", 0) > 10]
    if busy:
        print("# WARNING: other processes kept the CPUs busy just before: " + ", ".join(busy) +
              " -> those figures are low and noisy; rerun on an idle machine")
    k = by_key.get(("kannel", "single"))
    a = by_key.get(("apisendsms", "single"))
    if k and a:
        print(f"# single-message ratio apisendsms/Kannel (req/s): {a / k:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1])
