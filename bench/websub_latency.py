#!/usr/bin/env python3
"""WebSub latency: from a publisher's new item to that item in Tributary's merged output file.

A local publisher (its feed advertises a hub) and a local hub, both written here after the W3C
WebSub spec, on 127.0.0.1. `tributary run` subscribes (the hub verifies the callback with a
challenge); then, one at a time, the publisher adds an item and the hub delivers the new feed,
signed with the subscription's secret (HMAC-SHA256), to the callback. The time is measured
from the moment the item is added until the output file, read back, holds it. The source's
poll interval is 30 minutes (pushed: 6 hours), so nothing here is found by polling.

    cargo build --profile dist
    python3 bench/websub_latency.py --items 100
"""

import argparse
import hashlib
import hmac
import http.server
import pathlib
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Publisher:
    """The feed, newest first, with its hub and self links."""

    def __init__(self):
        self.items = []
        self.lock = threading.Lock()
        self.hub = self.topic = ""

    def feed(self):
        with self.lock:
            items = list(self.items)
        body = "".join(
            f"<item><guid isPermaLink=\"false\">{guid}</guid><title>{guid}</title>"
            f"<link>https://pub.example/{guid}</link><pubDate>{date}</pubDate></item>"
            for guid, date in reversed(items[-20:])
        )
        return (
            '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            "<channel><title>Latency</title><link>https://pub.example/</link>"
            "<description>d</description>"
            f'<atom:link rel="hub" href="{self.hub}"/><atom:link rel="self" href="{self.topic}"/>'
            f"{body}</channel></rss>"
        ).encode()

    def add(self, guid):
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        with self.lock:
            self.items.append((guid, date))


class Hub:
    """Subscriptions: verified by a GET with a challenge; content delivered signed."""

    def __init__(self):
        self.subscriptions = {}  # topic -> (callback, secret)
        self.verified = threading.Event()

    def subscribe(self, form):
        topic, callback = form["hub.topic"][0], form["hub.callback"][0]
        secret = form.get("hub.secret", [""])[0]
        query = urllib.parse.urlencode(
            {
                "hub.mode": form["hub.mode"][0],
                "hub.topic": topic,
                "hub.challenge": "bench-challenge",
                "hub.lease_seconds": form.get("hub.lease_seconds", ["86400"])[0],
            }
        )

        def verify():
            with urllib.request.urlopen(f"{callback}?{query}", timeout=10) as answer:
                if answer.read() == b"bench-challenge":
                    self.subscriptions[topic] = (callback, secret)
                    self.verified.set()

        threading.Thread(target=verify, daemon=True).start()

    def deliver(self, topic, body):
        callback, secret = self.subscriptions[topic]
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            callback,
            data=body,
            headers={"Content-Type": "application/rss+xml", "X-Hub-Signature": signature},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status


def serve(publisher, hub, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = publisher.feed()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            hub.subscribe(form)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    args = parser.parse_args()

    publisher, hub = Publisher(), Hub()
    web_port, own_port = free_port(), free_port()
    publisher.hub = f"http://127.0.0.1:{web_port}/hub"
    publisher.topic = f"http://127.0.0.1:{web_port}/feed.xml"
    publisher.add("seed")
    server = serve(publisher, hub, web_port)
    with tempfile.TemporaryDirectory() as work:
        work = pathlib.Path(work)
        (work / "tributary.toml").write_text(
            f"""
[database]
path = "state/tributary.db"
[retention]
max_age = "0"
[poll]
interval = "30m"
[[outputs]]
path = "public/feed.xml"
max_items = 50
[serve]
listen = "127.0.0.1:{own_port}"
root = "public/"
[site]
base_url = "http://127.0.0.1:{own_port}/"
[websub]
subscribe = true
[[sources]]
name = "Latency"
url = "{publisher.topic}"
"""
        )
        log = open(work / "daemon.log", "w")
        daemon = subprocess.Popen(
            [args.binary, "--config", str(work / "tributary.toml"), "run"],
            stderr=log,
            env={"RUST_LOG": "warn"},
        )
        try:
            if not hub.verified.wait(60):
                raise SystemExit("the subscription was never verified; see " + str(work / "daemon.log"))
            output = work / "public/feed.xml"
            latencies = []
            for n in range(args.items):
                guid = f"item-{n}"
                publisher.add(guid)
                started = time.perf_counter()
                status = hub.deliver(publisher.topic, publisher.feed())
                if status // 100 != 2:
                    raise SystemExit(f"delivery {n}: HTTP {status}")
                marker = f">{guid}<".encode()
                while True:
                    try:
                        if marker in output.read_bytes():
                            break
                    except FileNotFoundError:
                        pass
                    if time.perf_counter() - started > 30:
                        raise SystemExit(f"{guid} never reached the output")
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - started)
            latencies.sort()
            p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
            print(f"{len(latencies)} items pushed, publisher's new item -> merged output file:")
            print(
                f"  median {statistics.median(latencies) * 1000:.0f} ms, p90 {p(0.9) * 1000:.0f} ms, "
                f"p99 {p(0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
            )
            print("  by polling every 30 minutes instead: 15 minutes on average, up to 30")
        finally:
            daemon.terminate()
            daemon.wait(20)
            server.shutdown()


if __name__ == "__main__":
    main()
