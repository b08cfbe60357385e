"""End-to-end driver for bench/e2e.sh.

apisendsms: submits MESSAGES messages as POST /v1/messages batches (BATCH numbers each) over
CONCURRENCY keep-alive connections, then polls the SQLite database (read-only) until every message
is `delivered`. Kannel: reads the SMSC simulator's /stats until it has sent MESSAGES receipts
(the submissions themselves are made by ab). Prints one JSON object.
"""

import argparse
import http.client
import json
import sqlite3
import threading
import time


def submit_batches(port, key, messages, batch, concurrency):
    lock = threading.Lock()
    state = {"next": 0, "accepted": 0, "errors": 0}

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                start = state["next"]
                if start >= messages:
                    break
                n = min(batch, messages - start)
                state["next"] += n
            to = ["+4207%08d" % (start + i) for i in range(n)]
            body = json.dumps({"to": to, "text": "End-to-end benchmark message", "from": "BENCH"})
            conn.request("POST", "/v1/messages", body,
                         {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            with lock:
                if resp.status == 202:
                    state["accepted"] += len(json.loads(data)["messages"])
                else:
                    state["errors"] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return state


def delivered_in_db(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        return db.execute("SELECT count(*) FROM messages WHERE status = 'delivered'").fetchone()[0]
    finally:
        db.close()


def sim_receipts(control):
    conn = http.client.HTTPConnection("127.0.0.1", control, timeout=10)
    conn.request("GET", "/stats")
    stats = json.loads(conn.getresponse().read())
    conn.close()
    return stats.get("receipts_sent", 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["apisendsms", "kannel-wait"])
    p.add_argument("--port", type=int)
    p.add_argument("--key")
    p.add_argument("--db")
    p.add_argument("--sim-control", type=int)
    p.add_argument("--messages", type=int, default=200000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--t0", type=float, help="start time (epoch seconds) for kannel-wait")
    a = p.parse_args()

    t0 = a.t0 or time.time()
    out = {"messages": a.messages}
    if a.mode == "apisendsms":
        s = submit_batches(a.port, a.key, a.messages, a.batch, a.concurrency)
        out["accepted"] = s["accepted"]
        out["request_errors"] = s["errors"]
        out["accept_s"] = round(time.time() - t0, 2)
        count = lambda: delivered_in_db(a.db)
    else:
        count = lambda: sim_receipts(a.sim_control)
    target = a.messages
    done = 0
    while time.time() - t0 < a.timeout:
        done = count()
        if done >= target:
            break
        time.sleep(0.25)
    elapsed = time.time() - t0
    out["delivered"] = done
    out["total_s"] = round(elapsed, 2)
    out["delivered_per_s"] = round(done / elapsed, 1) if elapsed > 0 else 0
    out["complete"] = done >= target
    print(json.dumps(out))


if __name__ == "__main__":
    main()
