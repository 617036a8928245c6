"""Bounds under hostile input: the peak memory (and time) of each bomb case, each measured in a fresh subprocess.

    python -m bench.bombs                      # every case at the sizes issue 13 reported
    python -m bench.bombs --line-mb 200 --case jsonl_gz_line

Cases: a .jsonl.gz whose one line inflates to --line-mb MB; a .warc.gz whose WARC header line / HTTP header line
inflates to --header-mb MB; a feed naming a 10 KB entity 20,000 times; a gzip HTTP body inflating to 1 GB; a
server that drips its headers or its body one byte a second under --total_timeout 8. Run it on another
checkout with PYTHONPATH=<checkout> to compare (the same script measures the code it imports).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import zlib
from pathlib import Path

BODY = "The council approved the new transport plan on Tuesday after a long debate. " * 3
MB = 1 << 20

# Each case's code runs in its own interpreter: it imports newsbeam, notes the peak RSS, runs, prints the growth.
_MEASURE = textwrap.dedent("""
    import resource, sys, time
    {setup}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    try:
        out = {run}
    except Exception as exc:
        out = f"raised {{type(exc).__name__}}"
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(f"+{{grew:.0f}} MB peak RSS, {{time.monotonic() - t:.1f}} s: {{out}}")
""")
_READ = ("from transforms.read.transform import ParseInputFileFn",
         "[str(getattr(getattr(o, 'value', o), 'reason', 'article')) for o in ParseInputFileFn().process(sys.argv[1])]")


def _gz(path: Path, parts) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(path, "wb") as f:
        for part in parts:
            f.write(comp.compress(part))
        f.write(comp.flush())


def _repeat(n_mb: int):
    piece = b"a" * MB
    for _ in range(n_mb):
        yield piece


def jsonl_gz_line(tmp: Path, args) -> tuple[tuple[str, str], list[str]]:
    path = tmp / "line.jsonl.gz"
    tail = json.dumps({"id": "next", "text": BODY}).encode() + b"\n"
    _gz(path, [b'{"text": "', *_repeat(args.line_mb), b'"}\n' + tail])
    return _READ, [str(path)]


def warc_header(tmp: Path, args):
    path = tmp / "header.warc.gz"
    _gz(path, [b"WARC/1.0\r\nWARC-Type: response\r\nX-Big: ", *_repeat(args.header_mb), b"\r\n\r\n"])
    return _READ, [str(path)]


def warc_http_header(tmp: Path, args):
    path = tmp / "http.warc.gz"
    head, tail = b"HTTP/1.1 200 OK\r\nX-Big: ", b"\r\nContent-Type: text/html\r\n\r\n<p>x</p>"
    warc = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://e.example/\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n" % (len(head) + args.header_mb * MB + len(tail)))
    _gz(path, [warc + head, *_repeat(args.header_mb), tail + b"\r\n\r\n"])
    return _READ, [str(path)]


def feed_entity(tmp: Path, args):
    path = tmp / "feed.xml"
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{"A" * 10_000}">\n]>\n<rss version="2.0"><channel>'
           f'<title>t</title><item><title>{"&big;" * 20_000}</title><link>http://e.example/1</link></item></channel></rss>')
    path.write_text(doc)
    return ("from pathlib import Path\nfrom transforms.fetch.documents import parse_feed",
            "[f'{len(e.title or \"\")}-character title' for e in parse_feed(Path(sys.argv[1]).read_bytes(), 'http://e.example/f')[0]]"), [str(path)]


_SERVE = """
import socket, threading, zlib
from transforms.fetch import FetchConfig
from transforms.fetch.client import FetchError, http_get, make_pool_manager
def serve(head, drip, every):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
    def answer():
        c, _ = s.accept(); c.recv(65536); c.sendall(head)
        for b in drip:
            time.sleep(every)
            try: c.sendall(bytes([b]))
            except OSError: break
        c.close()
    threading.Thread(target=answer, daemon=True).start()
    return f"http://127.0.0.1:{s.getsockname()[1]}/x"
def get(url):
    cfg = FetchConfig(allow_private_addresses=True, total_timeout=8.0, read_timeout=30.0)
    try:
        r = http_get(make_pool_manager(cfg), url, {}, cfg, lambda st, h: True)
        return f"HTTP {r.status}, {len(r.body)} bytes"
    except FetchError as e:
        return f"{e.reason.value}: {e.detail[:60]}"
"""


def http_gzip_body(tmp: Path, args):
    setup = _SERVE + textwrap.dedent("""
        comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        body = b"".join(comp.compress(b"\\0" * (1 << 20)) for _ in range(1024)) + comp.flush()
        url = serve(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nContent-Encoding: gzip\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body, b"", 0)
    """)
    return (setup, "get(url)"), []


def drip_headers(tmp: Path, args):
    setup = _SERVE + 'url = serve(b"", b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nContent-Length: 2\\r\\n\\r\\nok" + b"X" * 60, 1.0)'
    return (setup, "get(url)"), []


def drip_body(tmp: Path, args):
    setup = _SERVE + 'url = serve(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html\\r\\nContent-Length: 60\\r\\n\\r\\n", b"x" * 60, 1.0)'
    return (setup, "get(url)"), []


CASES = {f.__name__: f for f in (jsonl_gz_line, warc_header, warc_http_header, feed_entity, http_gzip_body, drip_headers, drip_body)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bombs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only these cases (repeatable)")
    parser.add_argument("--line-mb", type=int, default=2048, help="MB the .jsonl.gz line inflates to (default 2048)")
    parser.add_argument("--header-mb", type=int, default=300, help="MB the WARC header lines inflate to (default 300)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsbeam-bombs-") as d:
        for name in args.case or CASES:
            (setup, run), extra = CASES[name](Path(d), args)
            size = sum(Path(p).stat().st_size for p in extra)
            proc = subprocess.run([sys.executable, "-c", _MEASURE.format(setup=setup, run=run), *extra], capture_output=True, text=True)
            result = proc.stdout.strip() or f"failed: {proc.stderr.strip().splitlines()[-1:]}"
            print(f"{name:18} {f'{size / 1e6:.1f} MB input' if size else '':14} {result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
