#!/usr/bin/env python3
"""A crawler walking every page of a large site on the built-in server (issue 36): builds the
site of the bench farm (N feeds of M items: 100,000 items by default) with `tributary once`,
serves it with `tributary run` ([serve] cache_size as given), fetches every page once (4
keep-alive connections, gzip accepted, as crawlers do), and prints the daemon's RSS before,
at its highest during the crawl, and after, beside the cache's budget.

    cargo build --profile dist
    python3 bench/crawl.py --cache-size 64MiB

Not run by CI.
"""
import argparse
import http.client
import pathlib
import re
import shutil
import socket
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from run import ROOT, nginx  # noqa: E402


def rss(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crawl(port, paths, out):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for path in paths:
        connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        response.read()
        out.append(response.status)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--cache-size", default="64MiB")
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--farm", type=pathlib.Path)
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    work.chmod(0o755)
    farm = args.farm or work / "farm"
    subprocess.run([sys.executable, str(ROOT / "bench/farm.py"), str(farm), "--feeds",
                    str(args.feeds), "--items", str(args.items)], check=True, capture_output=True)
    server = nginx(work, farm, 18280)
    daemon = None
    try:
        urls = [f"http://127.0.0.1:18280/{n}.xml" for n in range(args.feeds)]
        port = free_port()
        parts = ['[database]\npath = "state/tributary.db"',
                 '[poll]\nconcurrency = 32\nper_host_concurrency = 32\ninterval = "24h"',
                 '[retention]\nmax_age = "0"\ninitial_items = 0',
                 f'[serve]\nlisten = "127.0.0.1:{port}"\nroot = "public/"\n'
                 f'cache_size = "{args.cache_size}"',
                 '[site]\npages = "public/"',
                 '[[outputs]]\npath = "public/feed.xml"\nmax_items = 200']
        parts += [f'[[sources]]\nurl = "{u}"' for u in urls]
        config = "\n\n".join(parts) + "\n"
        (work / "tributary.toml").write_text(config)
        subprocess.run([args.binary, "--config", str(work / "tributary.toml"), "once"],
                       check=True, capture_output=True)
        site = work / "public"
        paths = ["/" + str(p.relative_to(site)) for p in sorted(site.rglob("*.html"))]
        log = open(work / "daemon.log", "w")
        daemon = subprocess.Popen([args.binary, "--config", str(work / "tributary.toml"), "run"],
                                  stdout=subprocess.DEVNULL, stderr=log,
                                  env=dict(os.environ, RUST_LOG="info"))
        while "serving the outputs" not in (work / "daemon.log").read_text():
            time.sleep(0.2)
        time.sleep(2)
        before = rss(daemon.pid)
        statuses = []
        threads = [threading.Thread(target=crawl, args=(port, paths[i::4], statuses))
                   for i in range(4)]
        started = time.monotonic()
        for t in threads:
            t.start()
        highest = before
        while any(t.is_alive() for t in threads):
            highest = max(highest, rss(daemon.pid))
            time.sleep(0.2)
        took = time.monotonic() - started
        after = rss(daemon.pid)
        ok = sum(1 for s in statuses if s == 200)
        print(f"{len(paths)} pages crawled in {took:.0f} s ({ok} answered 200); cache_size "
              f"{args.cache_size}; daemon RSS {before:.0f} MB before, {highest:.0f} MB at most "
              f"during the crawl, {after:.0f} MB after")
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait()
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
