#!/usr/bin/env python3
"""Upstream's own benchmark workload (bench.sh of v1.3.0) against upstream nsqd and ours, side
by side: for each round and each nsqd, a fresh process on free loopback ports and an empty data
directory, --mem-queue-size=1000000, topic sub_bench with channel ch created first, then
upstream's bench_writer (200 B, MPUB 200, one connection per CPU) and then bench_reader (RDY
2500, FIN each). The order of the nsqds alternates each round.

Prints, per nsqd, medians over the rounds: publish and consume msgs/s (the tools' own figures),
peak resident memory of nsqd (VmHWM) and nsqd's CPU time (user + system, all threads) per
message while publishing and while consuming, and each figure's ratio to the first nsqd.

  NSQ_UPSTREAM_BIN=../shared/upstream/bin tools/upstream_bench.py \\
      [--rounds 3] [--runfor 10s] [--cores 2] [label=path ...]

Without label=path arguments it compares upstream=$NSQ_UPSTREAM_BIN/nsqd with
ours=build/src/nsqd. A binary labelled `upstream` gets no --cores flag (upstream has none).
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def upstream_bin():
    path = os.environ.get("NSQ_UPSTREAM_BIN")
    if not path or not os.path.exists(os.path.join(path, "bench_writer")):
        sys.exit("set NSQ_UPSTREAM_BIN to a directory with upstream's nsqd, bench_writer and bench_reader")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, method, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read()


def wait_ping(port, proc, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nsqd exited with {proc.returncode} before answering /ping")
        try:
            if http(port, "GET", "/ping") == b"OK":
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nsqd on HTTP port {port} did not answer /ping")


def cpu_seconds(pid):
    """User + system time of every thread of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime, stime


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


GO_DURATION = re.compile(r"([0-9.]+)(ns|us|µs|ms|s|m|h)")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def messages_and_rate(output):
    """bench_writer/bench_reader print `duration: 10.0s - X mb/s - Y ops/s - Z us/op`."""
    m = re.search(r"duration: (\S+) - [0-9.]+mb/s - ([0-9.]+)ops/s", output)
    if not m:
        raise RuntimeError("no duration and ops/s in: " + output[-300:])
    seconds = sum(float(n) * UNIT_SECONDS[u] for n, u in GO_DURATION.findall(m.group(1)))
    rate = float(m.group(2))
    return rate * seconds, rate


def one_run(label, binary, cores, runfor, bench):
    tcp, http_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as data:
        args = [binary, f"--tcp-address=127.0.0.1:{tcp}", f"--http-address=127.0.0.1:{http_port}",
                f"--data-path={data}", "--mem-queue-size=1000000"]
        if label != "upstream":
            args.append(f"--cores={cores}")
        nsqd = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ping(http_port, nsqd)
            http(http_port, "POST", "/topic/create?topic=sub_bench")
            http(http_port, "POST", "/channel/create?topic=sub_bench&channel=ch")
            addr = f"-nsqd-tcp-address=127.0.0.1:{tcp}"
            phases = []
            for tool in ("bench_writer", "bench_reader"):
                before = cpu_seconds(nsqd.pid)
                out = subprocess.run([os.path.join(bench, tool), addr, f"-runfor={runfor}"],
                                     capture_output=True, text=True, check=True)
                cpu = cpu_seconds(nsqd.pid) - before
                messages, rate = messages_and_rate(out.stdout + out.stderr)
                phases.append((rate, cpu * 1e9 / messages))
            rss = peak_rss_mb(nsqd.pid)
            return {"publish": phases[0][0], "consume": phases[1][0], "rss": rss,
                    "pub_ns": phases[0][1], "sub_ns": phases[1][1]}
        finally:
            nsqd.terminate()
            try:
                nsqd.wait(timeout=60)
            except subprocess.TimeoutExpired:
                nsqd.kill()
                nsqd.wait()


COLUMNS = [("publish", "publish msgs/s", "{:,.0f}"), ("consume", "consume msgs/s", "{:,.0f}"),
           ("rss", "peak RSS MB", "{:,.0f}"), ("pub_ns", "CPU ns/msg publishing", "{:,.0f}"),
           ("sub_ns", "CPU ns/msg consuming", "{:,.0f}")]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binaries", nargs="*", help="label=path (default: upstream and ours)")
    p.add_argument("--cores", type=int, default=2, help="--cores for ours (default 2)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runfor", default="10s", help="each tool's -runfor (default 10s, as bench.sh)")
    a = p.parse_args()
    bench = upstream_bin()
    binaries = [b.split("=", 1) for b in a.binaries] or [
        ("upstream", os.path.join(bench, "nsqd")), ("ours", os.path.join(ROOT, "build", "src", "nsqd"))]
    results = {label: [] for label, _ in binaries}
    for rnd in range(a.rounds):
        order = binaries if rnd % 2 == 0 else list(reversed(binaries))
        for label, path in order:
            r = one_run(label, path, a.cores, a.runfor, bench)
            results[label].append(r)
            print(f"round {rnd + 1} {label}: " + ", ".join(
                f"{title} {fmt.format(r[key])}" for key, title, fmt in COLUMNS), flush=True)
    first = binaries[0][0]
    print(f"\n{' '.join(sys.argv)}")
    print(f"medians of {a.rounds} rounds, -runfor={a.runfor} per phase, ours on --cores={a.cores}; "
          f"(ratio to {first})")
    print("| nsqd | " + " | ".join(title for _, title, _ in COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    base = {key: statistics.median(r[key] for r in results[first]) for key, _, _ in COLUMNS}
    for label, _ in binaries:
        cells = []
        for key, _, fmt in COLUMNS:
            value = statistics.median(r[key] for r in results[label])
            cells.append(fmt.format(value) + ("" if label == first else f" ({value / base[key]:.2f}x)"))
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
