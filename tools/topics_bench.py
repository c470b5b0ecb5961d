#!/usr/bin/env python3
"""Thousands of topics, side by side: create, start, stop, idle CPU, memory and /stats time.

For each N and each nsqd (ours on every --cores value, and upstream's when found), in a fresh
data directory: creates N topics with one channel each by HTTP POSTs (/topic/create, then
/channel/create) on one keep-alive connection, waits, measures idle CPU (clock ticks over
--idle seconds) and resident memory (and per queue part: its growth over the empty
node, divided by topics and channels times shards), times /stats?format=json, stops with SIGTERM (timed), starts again on the same data path (timed
until /ping answers), checks every topic came back, and stops again. One run each: a
benchmark, not a test.

Usage: tools/topics_bench.py [--nsqd build/src/nsqd] [--upstream DIR/nsqd] [--topics 2000,10000]
                             [--cores 1,2,4] [--upstream-max 2000] [--idle 20]
The upstream binary defaults to $NSQ_UPSTREAM_BIN/nsqd. Upstream rewrites its whole nsqd.dat on
every create (about 180 s for 10,000 topics here), so it runs only up to --upstream-max topics.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class node:
    def __init__(self, binary, data, extra):
        self.binary, self.data, self.extra = binary, data, extra
        self.proc = None

    def start(self):
        self.tcp, self.http = free_port(), free_port()
        args = [self.binary, f"--tcp-address=127.0.0.1:{self.tcp}", f"--http-address=127.0.0.1:{self.http}",
                f"--data-path={self.data}"] + self.extra
        self.log = open(os.path.join(self.data, "..", "nsqd.log"), "ab")
        began = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"{self.binary} exited with {self.proc.returncode} at start")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=1)
                c.request("GET", "/ping")
                if c.getresponse().status == 200:
                    c.close()
                    return time.monotonic() - began
            except OSError:
                pass
            time.sleep(0.005)

    def stop(self):
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=600)
        self.log.close()
        return time.monotonic() - began

    def cpu_seconds(self):
        # Clock ticks (10 ms) of every thread, io_uring's workers that have exited included
        # (per-thread schedstat would lose those): measure over long enough a window.
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.http, timeout=600)


def post(conn, path):
    conn.request("POST", path, body=b"", headers={"Content-Length": "0"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"POST {path} answered {r.status}")


def topic_names(conn):
    conn.request("GET", "/stats?format=json")
    r = conn.getresponse()
    body = r.read()
    return {t["topic_name"] for t in json.loads(body)["topics"]}


def measure(work, binary, extra, n, idle_s, parts_per_queue):
    data = os.path.join(work, "data")
    os.mkdir(data)
    row = {}
    nd = node(binary, data, extra)
    try:
        nd.start()
        time.sleep(0.5)
        rss_empty = nd.rss_mb()
        conn = nd.connection()
        began = time.monotonic()
        for i in range(n):
            post(conn, f"/topic/create?topic=t{i}")
            post(conn, f"/channel/create?topic=t{i}&channel=c")
        row["create"] = time.monotonic() - began
        time.sleep(5)  # past the sync tick (2 s) that writes the new queues' meta files
        cpu0 = nd.cpu_seconds()
        time.sleep(idle_s)
        row["idle"] = (nd.cpu_seconds() - cpu0) / idle_s * 1000
        row["rss"] = nd.rss_mb()
        parts = 2 * n * (parts_per_queue or 1)
        row["per_part"] = (row["rss"] - rss_empty) * 1024 / parts
        times = []
        for _ in range(3):
            began = time.monotonic()
            names = topic_names(conn)
            times.append(time.monotonic() - began)
        row["stats"] = sorted(times)[1] * 1000
        if len(names) != n:
            sys.exit(f"/stats lists {len(names)} topics, not {n}")
        conn.close()
        row["stop"] = nd.stop()
        row["start"] = nd.start()
        conn = nd.connection()
        back = topic_names(conn)
        conn.close()
        if len(back) != n:
            sys.exit(f"after a restart /stats lists {len(back)} topics, not {n}")
        nd.stop()
    finally:
        if nd.proc and nd.proc.poll() is None:
            nd.proc.kill()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nsqd", default="build/src/nsqd")
    up = os.environ.get("NSQ_UPSTREAM_BIN")
    ap.add_argument("--upstream", default=os.path.join(up, "nsqd") if up else None)
    ap.add_argument("--topics", default="2000,10000")
    ap.add_argument("--cores", default="1,2,4")
    ap.add_argument("--upstream-max", type=int, default=2000)
    ap.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU measured")
    a = ap.parse_args()

    runs = []
    for n in [int(x) for x in a.topics.split(",")]:
        if a.upstream and n <= a.upstream_max:
            runs.append((n, "upstream", a.upstream, [], 1))
        for c in a.cores.split(","):
            runs.append((n, f"ours --cores {c}", a.nsqd, [f"--cores={c}"], int(c)))

    print("| N topics | nsqd | create all | start until /ping | SIGTERM to exit | idle CPU | resident memory | per queue part | /stats JSON |")
    print("|---|---|---|---|---|---|---|---|---|")
    # Data directories are removed only at the end: on ext4, a file created within a minute of
    # many deletions is slow to get an inode (the allocator skips recently deleted ones), so a
    # run right after removing the last one's 20,000 files would pay for it.
    works = []
    try:
        for n, label, binary, extra, shards in runs:
            works.append(tempfile.mkdtemp(prefix="topics-bench-"))
            r = measure(works[-1], binary, extra, n, a.idle, shards)
            print(f"| {n:,} | {label} | {r['create']:.2f} s | {r['start']:.2f} s | {r['stop']:.2f} s | "
                  f"{r['idle']:.1f} ms/s | {r['rss']:.0f} MB | {r['per_part']:.1f} KB | {r['stats']:.0f} ms |", flush=True)
    finally:
        for w in works:
            shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
