#!/usr/bin/env python3
"""Runs nsq_bench against fresh nsqd processes, several configurations side by side, and prints
medians (tools/nsq_bench/README.md, "Matrix").

Each round starts every configuration once, in turn (so slow drifts of the machine hit them
all alike); each run gets a fresh data directory and a fresh nsqd. Scenarios:

  upstream  upstream's bench.sh: --mem-queue-size=1000000, topic sub_bench with channel ch
            created first, publish for --duration (MPUB 200 x 200 B, 2 publishers like
            bench_writer on 2 CPUs), then consume for --duration (RDY 2500, FIN each, 2
            consumers); resident memory after publishing.
  latency   publish and consume at once at --rate msgs/s: publish-to-receive percentiles.
  disk      publish only for --duration: every configuration's rate, and its ratio to the
            first configuration's in the same round.

  tools/nsq_bench/matrix.py --scenario=upstream --config='--cores=1' --config='--cores=2' --config='--cores=4'
  tools/nsq_bench/matrix.py --scenario=disk --config='--mem-queue-size=10000000' --config='--mem-queue-size=0'

Any nsqd binary works (--nsqd), upstream's included: configuration flags are passed as given,
and a configuration's first word `nsqd=PATH` runs that binary instead (side by side):

  tools/nsq_bench/matrix.py --config='--cores=2' --config="nsqd=$NSQ_UPSTREAM_BIN/nsqd"

--tls makes a self-signed certificate, serves it from every configuration (--tls-cert,
--tls-key, no HTTPS listener) and has nsq_bench speak TLS on every connection.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nsqd did not answer /ping")


def post(port, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Nsqd:
    def __init__(self, binary, flags, workdir):
        self.data = tempfile.mkdtemp(prefix="nsqd-matrix-", dir=workdir)
        self.tcp, self.http = free_port(), free_port()
        args = [binary, f"--data-path={self.data}", f"--tcp-address=127.0.0.1:{self.tcp}",
                f"--http-address=127.0.0.1:{self.http}"] + flags
        self.log = open(os.path.join(self.data, "..", os.path.basename(self.data) + ".log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        wait_ready(self.http)

    def close(self):
        self.proc.send_signal(signal.SIGKILL)  # the data directory goes anyway
        self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)
        shutil.rmtree(self.data, ignore_errors=True)


def make_certificate(workdir):
    d = tempfile.mkdtemp(prefix="nsqd-matrix-tls-", dir=workdir)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    return [f"--tls-cert={cert}", f"--tls-key={key}", "--https-address="]


def split_config(opts, config):
    """(binary, flags) of one configuration string."""
    words = config.split()
    binary = opts.nsqd
    if words and words[0].startswith("nsqd="):
        binary = words.pop(0)[len("nsqd="):]
    return binary, words + opts.tls_flags


def bench(binary, nsqd, args):
    cmd = [binary, f"--nsqd-tcp-address=127.0.0.1:{nsqd.tcp}", "--json", "--quiet"] + args + BENCH_EXTRA
    out = subprocess.run(cmd, capture_output=True, text=True)
    if not out.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    if result.get("errors"):
        raise RuntimeError(f"{' '.join(cmd)}: {result['errors']}")
    return result


BENCH_EXTRA = []  # --tls


def run_upstream(opts, binary, flags):
    nsqd = Nsqd(binary, ["--mem-queue-size=1000000"] + flags, opts.workdir)
    try:
        post(nsqd.http, "/topic/create?topic=sub_bench")
        post(nsqd.http, "/channel/create?topic=sub_bench&channel=ch")
        common = ["--topic=sub_bench", "--channel=ch", f"--duration={opts.duration}"]
        pub = bench(opts.bench, nsqd, common + ["--mode=pub", "--publishers=2", "--batch=200", "--size=200"])
        rss = rss_mb(nsqd.proc.pid)
        sub = bench(opts.bench, nsqd, common + ["--mode=sub", "--consumers=2", "--rdy=2500"])
        lost = pub["publish"]["messages"] - sub["messages"]["unique"]
        return {"publish": pub["publish"]["msgs_per_s"], "consume": sub["consume"]["msgs_per_s"],
                "rss_mb": rss, "published": pub["publish"]["messages"], "unconsumed": lost,
                "dup": sub["messages"]["duplicated"]}
    finally:
        nsqd.close()


def run_latency(opts, binary, flags):
    nsqd = Nsqd(binary, ["--mem-queue-size=1000000"] + flags, opts.workdir)
    try:
        r = bench(opts.bench, nsqd, ["--topic=lat", "--channel=ch", f"--duration={opts.duration}",
                                     f"--rate={opts.rate}", "--publishers=2", "--consumers=2"])
        lat = r["latency_ns"]
        m = r["messages"]
        return {"publish": r["publish"]["msgs_per_s"], "consume": r["consume"]["msgs_per_s"],
                "p50_us": lat["p50"] / 1e3, "p99_us": lat["p99"] / 1e3, "p99_9_us": lat["p99_9"] / 1e3,
                "lost": m["lost"], "dup": m["duplicated"]}
    finally:
        nsqd.close()


def run_disk(opts, binary, flags):
    nsqd = Nsqd(binary, flags, opts.workdir)
    try:
        post(nsqd.http, "/topic/create?topic=disk")
        post(nsqd.http, "/channel/create?topic=disk&channel=ch")
        r = bench(opts.bench, nsqd, ["--topic=disk", "--mode=pub", f"--duration={opts.duration}", "--publishers=2"])
        return {"publish": r["publish"]["msgs_per_s"]}
    finally:
        nsqd.close()


SCENARIOS = {"upstream": run_upstream, "latency": run_latency, "disk": run_disk}


def fmt(v):
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=SCENARIOS, default="upstream")
    p.add_argument("--config", action="append", default=[],
                   help="nsqd flags of one configuration (space-separated); repeat for each")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", default="10s")
    p.add_argument("--rate", type=int, default=500000, help="latency scenario: total msgs/s")
    p.add_argument("--nsqd", default=os.path.join(ROOT, "build/src/nsqd"))
    p.add_argument("--bench", default=os.path.join(ROOT, "build/tools/nsq_bench/nsq_bench"))
    p.add_argument("--workdir", default=None, help="where data directories go (default: the temp dir)")
    p.add_argument("--tls", action="store_true", help="every configuration serves TLS and nsq_bench speaks it")
    opts = p.parse_args()
    opts.tls_flags = make_certificate(opts.workdir) if opts.tls else []
    if opts.tls:
        BENCH_EXTRA.append("--tls")
    configs = opts.config or [""]
    run = SCENARIOS[opts.scenario]
    results = {c: [] for c in configs}
    for r in range(opts.runs):
        for c in configs:
            res = run(opts, *split_config(opts, c))
            results[c].append(res)
            print(f"round {r + 1} [{c or 'defaults'}] " + ", ".join(f"{k}={fmt(v)}" for k, v in res.items()),
                  file=sys.stderr, flush=True)
    keys = list(results[configs[0]][0].keys())
    ratio_keys = [k for k in ("publish", "consume") if k in keys] if len(configs) > 1 else []
    print(f"# {opts.scenario}, {opts.runs} rounds, duration {opts.duration}{', TLS' if opts.tls else ''}: median (min-max)")
    print("| nsqd flags | " + " | ".join(keys) + "".join(f" | {k} vs first (median ratio)" for k in ratio_keys) + " |")
    print("|---" * (len(keys) + 1 + len(ratio_keys)) + "|")
    for c in configs:
        cells = []
        for k in keys:
            vals = [x[k] for x in results[c]]
            cells.append(f"{fmt(statistics.median(vals))} ({fmt(min(vals))}-{fmt(max(vals))})")
        ratio = ""
        for k in ratio_keys:
            ratios = [x[k] / base[k] for x, base in zip(results[c], results[configs[0]])]
            ratio += f" | {statistics.median(ratios):.2f}"
        print(f"| `{c or 'defaults'}` | " + " | ".join(cells) + ratio + " |")


if __name__ == "__main__":
    main()
