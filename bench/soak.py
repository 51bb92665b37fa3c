#!/usr/bin/env python3
"""Soak test: runs `tributary run` for a while against a local farm of feeds that change every
round, then reports polls, items stored vs published, duplicates, memory, open files and CPU.

    cargo build --profile dist
    python3 bench/soak.py [--minutes 10] [--feeds 300] [--round 5] [--interval 5s]

Everything runs on 127.0.0.1 (a Python HTTP server in this process serves the farm) in a
temporary folder. Not run by CI: it takes as long as you ask it to.
"""
import argparse
import http.server
import os
import pathlib
import random
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from email.utils import formatdate

ROOT = pathlib.Path(__file__).resolve().parent.parent


def feed_xml(n, items):
    entries = "".join(
        f"<item><guid isPermaLink=\"false\">{guid}</guid><title>Item {guid}</title>"
        f"<link>https://farm.example/{n}/{guid}</link>"
        f"<description><![CDATA[<p>{'Some text. ' * 40}</p>]]></description>"
        f"<pubDate>{formatdate(ts, usegmt=True)}</pubDate></item>"
        for guid, ts in reversed(items[-50:])
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Farm feed {n}</title><link>https://farm.example/{n}/</link>"
        f"<description>soak</description>{entries}</channel></rss>"
    ).encode()


class Farm:
    def __init__(self, feeds):
        self.lock = threading.Lock()
        self.items = {n: [] for n in range(feeds)}
        self.bodies = {}
        self.published = 0
        self.counter = 0
        for n in range(feeds):
            for _ in range(5):
                self.add(n)

    def add(self, n):
        with self.lock:
            self.counter += 1
            self.items[n].append((f"f{n}-i{self.counter}", time.time()))
            self.bodies[n] = feed_xml(n, self.items[n])
            self.published += 1

    def handler(farm):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                try:
                    n = int(self.path.strip("/").split(".")[0])
                    body = farm.bodies[n]
                except (ValueError, KeyError):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


def sample(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmRSS")))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, fds, cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--round", type=float, default=5, help="seconds between farm changes")
    parser.add_argument("--interval", default="5s", help="the sources' poll interval")
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    args = parser.parse_args()

    farm = Farm(args.feeds)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), farm.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    work = pathlib.Path(tempfile.mkdtemp(prefix="tributary-soak-"))
    config = [
        '[database]\npath = "state/tributary.db"',
        f'[poll]\ninterval = "{args.interval}"\nconcurrency = 32\nper_host_concurrency = 32',
        '[retention]\nmax_age = "0"\ninitial_items = 0',
        '[[outputs]]\npath = "public/feed.xml"\nmax_items = 500',
    ]
    config += [f'[[sources]]\nname = "F{n}"\nurl = "http://127.0.0.1:{port}/{n}.xml"' for n in range(args.feeds)]
    (work / "tributary.toml").write_text("\n\n".join(config) + "\n")
    log = open(work / "daemon.log", "w")
    daemon = subprocess.Popen(
        [args.binary, "--config", str(work / "tributary.toml"), "run"],
        stderr=log,
        env={**os.environ, "RUST_LOG": "info"},
    )
    time.sleep(2)
    samples = {"start": sample(daemon.pid)}
    end = time.time() + args.minutes * 60
    middle = time.time() + args.minutes * 30
    rounds = 0
    while time.time() < end:
        time.sleep(args.round)
        for n in random.sample(range(args.feeds), max(1, args.feeds // 10)):
            farm.add(n)
        rounds += 1
        if "middle" not in samples and time.time() >= middle:
            samples["middle"] = sample(daemon.pid)
    # Let the last changes be polled before stopping.
    time.sleep(float(args.interval.rstrip("s")) * 2 + 2)
    samples["end"] = sample(daemon.pid)
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(timeout=30)
    log.close()

    polls = sum(1 for line in open(work / "daemon.log") if " polled" in line)
    db = sqlite3.connect(work / "state/tributary.db")
    stored = db.execute("SELECT count(*) FROM items").fetchone()[0]
    duplicates = db.execute(
        "SELECT count(*) FROM (SELECT guid FROM items GROUP BY guid HAVING count(*) > 1)"
    ).fetchone()[0]
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    cpu = samples["end"][2] - samples["start"][2]
    print(f"soak: {args.minutes} min, {args.feeds} feeds, {rounds} rounds, exit code {code}")
    print(f"polls done: {polls}")
    print(f"items published: {farm.published}, stored: {stored}, duplicates: {duplicates}, integrity: {integrity}")
    for when in ("start", "middle", "end"):
        if when in samples:
            rss, fds, _ = samples[when]
            print(f"{when:>6}: RSS {rss:.1f} MB, open files {fds}")
    print(f"CPU: {cpu:.2f} s in all, {1000 * cpu / max(polls, 1):.3f} ms per poll")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
