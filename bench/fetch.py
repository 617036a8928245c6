"""Fetching: `newsbeam run --urls` against a loopback site of many hosts, checked from the server's own log.

    python -m bench.fetch [--hosts 40] [--pages 6] [--rate 2] [--concurrency 8] [--delay 0.05] [--workers 1 2] [-- run options]

One HTTP server listens on --hosts loopback addresses (127.0.0.2, 127.0.0.3, ...: 127.0.0.0/8 is all
loopback), each a host to the fetcher, and answers every request after --delay seconds (a page or a
robots.txt). The URL list names --pages article pages per host. For every --workers value the pipeline
runs in a fresh process (default DirectRunner) with `--rate_per_host`, `--fetch_concurrency` and
`--allow_private_addresses`; from the server's log of arrival times the script prints the request rate
over the fetch (first to last request), the rate it can reach at most, min(hosts x rate per host,
concurrency / response time), the most requests the server answered at once (at most --concurrency) and
the smallest gap between two requests to one host (at least 1 / rate per host); it exits 1 if either is broken.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

PARAGRAPH = ("<p>Paragraph {i} of story {n} from {host}: the council met on Tuesday evening and voted on the budget "
             "for the coming year, with {i} members in favour and the mayor abstaining after a long debate.</p>")


class LoopbackSite:
    """One request handler listening on `hosts` loopback addresses (one port); logs (arrival time, Host header, path)."""

    def __init__(self, hosts: int, delay: float):
        if not 1 <= hosts <= 60000:
            raise ValueError("hosts must be 1..60000")
        self.delay = delay
        self.log: list[tuple[float, str, str]] = []
        self.in_flight = self.max_in_flight = 0  # requests waiting for their answer at once, and the most of them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                at = time.time()
                host = self.headers.get("host", "")
                with site._lock:
                    site.log.append((at, host, self.path))
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    if site.delay:
                        site._stop.wait(site.delay)  # a server that takes this long to answer
                finally:
                    # Counted until the answer starts: the client cannot have its response before that, so a
                    # request it starts next cannot be counted together with this one by a late decrement.
                    with site._lock:
                        site.in_flight -= 1
                self._answer(host)

            def _answer(self, host):
                if self.path == "/robots.txt":
                    body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
                else:
                    n = self.path.rsplit("/", 1)[-1]
                    paras = "".join(PARAGRAPH.format(i=i, n=n, host=host) for i in range(8))
                    body = (f"<html><head><title>Story {n} on {host}</title></head><body><article><h1>Story {n} on {host}</h1>"
                            f"{paras}</article></body></html>").encode()
                    ctype = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.servers: list[http.server.ThreadingHTTPServer] = []
        port = 0
        for i in range(hosts):
            n = 2 + i  # 127.0.0.1 is left alone
            address = f"127.0.{n // 256}.{n % 256}"
            server = http.server.ThreadingHTTPServer((address, port), Handler)
            server.daemon_threads = True
            port = server.server_address[1]  # every address on the port the first one got
            self.servers.append(server)
        self.hosts = [f"{s.server_address[0]}:{port}" for s in self.servers]
        self._selector = selectors.DefaultSelector()
        for server in self.servers:
            self._selector.register(server.socket, selectors.EVENT_READ, server)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.05):
                key.data._handle_request_noblock()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for server in self.servers:
            server.server_close()

    def requests(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return sorted(self.log)


def log_figures(log: list[tuple[float, str, str]]) -> dict:
    """Request count, rate over the fetch (first to last arrival) and the smallest per-host gap, from a server log."""
    by_host: dict[str, list[float]] = defaultdict(list)
    for at, host, _ in log:
        by_host[host].append(at)
    gaps = [b - a for times in by_host.values() for a, b in zip(times, times[1:])]
    span = log[-1][0] - log[0][0] if len(log) > 1 else 0.0
    return {"requests": len(log), "hosts": len(by_host), "span": span, "rate": (len(log) - 1) / span if span else 0.0,
            "min_gap": min(gaps) if gaps else float("inf"), "median_gap": statistics.median(gaps) if gaps else float("inf")}


def run_pipeline(urls_file: str, out_dir: str, args, workers: int, extra: list[str] = ()) -> tuple[float, dict]:
    """`newsbeam run --urls` in a fresh process; (wall seconds, its runs row counts)."""
    cmd = [sys.executable, "-c", "import json, sys; from pipeline.main import run; "
           "row = run(sys.argv[1:], out=open('/dev/null', 'w')); print(json.dumps({k: row[k] for k in ('article_count', 'reject_count')}))",
           "--urls", urls_file, "--output", out_dir, "--allow_private_addresses", "--rate_per_host", str(args.rate),
           "--fetch_concurrency", str(args.concurrency)]
    if workers:
        cmd += ["--workers", str(workers)]
    cmd += list(extra)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit("pipeline run failed")
    return seconds, json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fetch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=40, help="loopback hosts (addresses) of the site (default 40)")
    parser.add_argument("--pages", type=int, default=6, help="article pages per host in the URL list (default 6)")
    parser.add_argument("--rate", type=float, default=1.0, help="--rate_per_host: requests per second to one host (default 1, newsbeam's default)")
    parser.add_argument("--concurrency", type=int, default=8, help="--fetch_concurrency (default 8, newsbeam's default)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the server takes per response (default 0.05)")
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 2],
                        help="`newsbeam run --workers` values (default: 0 = the default runner, and 2)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # passed to `newsbeam run`
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    print(f"site: {args.hosts} loopback hosts x {args.pages} pages, {args.delay * 1000:.0f} ms per response; "
          f"--rate_per_host {args.rate} --fetch_concurrency {args.concurrency} {' '.join(extra)}")
    # A host's requests are an interval apart counted from the end of one response: its robots.txt and
    # --pages pages span pages x (interval + response time), so all hosts together give at most
    # hosts x (pages + 1) / that per second; `concurrency` requests in flight give concurrency / response time.
    per_host = (args.pages + 1) / (args.pages * (1.0 / args.rate + args.delay))
    ceiling = min(args.hosts * per_host, args.concurrency / args.delay if args.delay else float("inf"))
    print(f"most requests per second possible: min({args.hosts} hosts x {per_host:.2f}, {args.concurrency} / {args.delay}s) = {ceiling:.1f}")
    print(f"{'workers':<10}{'run s':>8}{'requests':>10}{'fetch s':>9}{'req/s':>8}{'of most':>9}{'in flight':>11}{'min gap s':>11}{'1/rate':>8}  outcome")
    ok = True
    with tempfile.TemporaryDirectory(prefix="newsbeam-fetch-bench-") as tmp:
        for workers in args.workers:
            site = LoopbackSite(args.hosts, args.delay)
            try:
                urls_file = os.path.join(tmp, "urls.txt")
                with open(urls_file, "w") as f:
                    for n in range(args.pages):
                        for host in site.hosts:
                            f.write(f"http://{host}/news/{n}\n")
                out_dir = os.path.join(tmp, f"out-{workers}")
                seconds, row = run_pipeline(urls_file, out_dir, args, workers, extra)
                shutil.rmtree(out_dir, ignore_errors=True)
            finally:
                site.close()
            fig = log_figures(site.requests())
            polite = fig["min_gap"] >= 1.0 / args.rate
            bounded = site.max_in_flight <= args.concurrency
            ok &= polite and bounded
            print(f"{workers or 'default':<10}{seconds:>8.1f}{fig['requests']:>10}{fig['span']:>9.1f}{fig['rate']:>8.1f}"
                  f"{fig['rate'] / ceiling:>9.2f}{site.max_in_flight:>11}{fig['min_gap']:>11.3f}{1.0 / args.rate:>8.3f}  "
                  f"{row['article_count']} articles + {row['reject_count']} rejects of {args.hosts * args.pages} URLs"
                  f"{'' if polite else '  PER-HOST RATE EXCEEDED'}{'' if bounded else '  CONCURRENCY EXCEEDED'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
