#!/usr/bin/env python3
"""What hostile publishers and clients cost a release build, everything on 127.0.0.1.

- nested: CPU seconds (user + system) and peak RSS of `tributary once` on a feed of one item
  holding N nested <div>s, for each N in --levels;
- json, html: peak RSS of `once` on a JSON API answer and a page of many matches (sizes in MB
  from --json-mb and --html-mb), against `once` on a small feed (the baseline);
- connections: a daemon serving with the default [serve] limits takes --clients idle, half-sent
  and slow-body connections from one client; prints the connections the daemon holds (its open
  files), whether a plain GET and /status.json are answered meanwhile (and how fast), and how
  many hostile connections are still open after header_timeout and after idle_timeout;
- compression: three clients ask for three ~15 MB outputs with brotli at once, then a 404 is
  asked for: prints the 404's latency, against the same 404 with nothing else going on.

Medians of --runs. Usage:
    cargo build --profile dist
    python3 bench/hostile.py --runs 5
"""

import argparse
import html
import json
import os
import pathlib
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def once(binary, work, config):
    """Runs `once` on `config` (a fresh database): (cpu seconds, peak RSS in MB)."""
    (work / "c.toml").write_text(config)
    for state in ("state", "public"):
        subprocess.run(["rm", "-rf", str(work / state)], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", binary, "--config", str(work / "c.toml"), "once"],
        cwd=work, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    return cpu, rss_kb / 1024


def config(source):
    return f"""[database]
path = "state/t.db"
[retention]
max_age = "0"
[[outputs]]
path = "public/feed.xml"
title = "x"
[[sources]]
name = "S"
{source}
"""


def rss(body):
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
            f'<link>https://n.example/</link><description>d</description>'
            f'<item><title>Nested</title><link>https://n.example/1</link><guid>n1</guid>'
            f'<pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate>'
            f'<description>{html.escape(body)}</description></item></channel></rss>')


def median(runs, f):
    results = [f() for _ in range(runs)]
    return tuple(statistics.median(r[i] for r in results) for i in range(len(results[0])))


def nested(binary, work, levels, runs):
    print("nested <div>s in one item: levels, CPU s, peak RSS MB")
    for n in levels:
        (work / "nested.xml").write_text(rss("<div>" * n + "deep" + "</div>" * n))
        cpu, rss_mb = median(runs, lambda: once(binary, work, config('url = "file:nested.xml"')))
        print(f"  {n:>7}  {cpu:6.2f}  {rss_mb:6.1f}")


def big_answers(binary, work, json_mb, html_mb, runs):
    (work / "small.xml").write_text(rss("<p>small</p>"))
    _, baseline = median(runs, lambda: once(binary, work, config('url = "file:small.xml"')))
    count = int(json_mb * 1e6 / 260)
    items = [{"id": f"id{i}", "headline": f"Release {i} about things",
              "links": {"canonical": f"https://a.example/r/{i}"},
              "published_at": "2026-11-01T10:00:00Z", "teaser": "A teaser " * 6,
              "body_html": "<p>Body text here</p>"} for i in range(count)]
    answer = json.dumps({"data": {"releases": items}})
    (work / "api.json").write_text(answer)
    json_source = '''url = "file:api.json"
kind = "json"
[sources.json]
items = "data.releases"
id = "id"
title = "headline"
link = "links.canonical"
date = "published_at"
summary = "teaser"
content = "body_html"'''
    _, json_rss = median(runs, lambda: once(binary, work, config(json_source)))
    rows = int(html_mb * 1e6 / 112)
    page = "<html><body>" + "".join(
        f'<article class="r"><h2>Title {i}</h2><a href="/n/{i}">more</a>'
        f'<p class="summary">Teaser {i}</p></article>\n' for i in range(rows)) + "</body></html>"
    (work / "page.html").write_text(page)
    html_source = '''url = "file:page.html"
kind = "html"
[sources.html]
item = "article.r"
title = "h2"
link = "a@href"
summary = "p.summary"'''
    _, html_rss = median(runs, lambda: once(binary, work, config(html_source)))
    print(f"peak RSS: a small feed {baseline:.1f} MB; a {len(answer) / 1e6:.1f} MB JSON answer "
          f"({count} items) {json_rss:.1f} MB (+{json_rss - baseline:.1f}); a "
          f"{len(page) / 1e6:.1f} MB page ({rows} matches) {html_rss:.1f} MB "
          f"(+{html_rss - baseline:.1f})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=30, headers=None):
    """(status, seconds) of a GET on a fresh connection."""
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = None
    return status, time.monotonic() - started


def start_daemon(binary, work, config_text):
    (work / "c.toml").write_text(config_text)
    log = open(work / "daemon.log", "w")
    # As systemd starts a service: a soft limit of 1,024 open files, which the daemon raises.
    def systemd_limit():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    daemon = subprocess.Popen([binary, "--config", str(work / "c.toml"), "run"], cwd=work,
                              stderr=log, stdout=subprocess.DEVNULL, preexec_fn=systemd_limit)
    return daemon


def wait_until(condition, limit=60):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def open_files(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def still_open(sockets):
    count = 0
    for s in sockets:
        s.setblocking(False)
        try:
            while True:
                data = s.recv(4096)
                if not data:
                    break
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def connections(binary, work, clients):
    (work / "small.xml").write_text(rss("<p>small</p>"))
    port = free_port()
    daemon = start_daemon(binary, work, config('url = "file:small.xml"') +
                          f'\n[serve]\nlisten = "127.0.0.1:{port}"\nroot = "public"\nstatus = true\n')
    try:
        assert wait_until(lambda: get(port, "/feed.xml", 2)[0] == 200), "the daemon did not serve"
        files_before = open_files(daemon.pid)
        held, refused = [], 0
        for n in range(clients):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                refused += 1
                if refused > 20:  # the kernel's queue is full: the server takes no more
                    break
                continue
            if n % 3 == 1:
                s.sendall(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            elif n % 3 == 2:
                s.sendall(b"POST /websub/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\nx")
            held.append(s)
        peak = open_files(daemon.pid) - files_before
        plain = get(port, "/feed.xml", 15)
        status = get(port, "/status.json", 15)
        print(f"{len(held)} hostile connections ({refused} refused): the daemon holds {peak} "
              f"more open files; "
              f"meanwhile GET /feed.xml {plain[0]} in {plain[1] * 1000:.0f} ms, "
              f"/status.json {status[0]} in {status[1] * 1000:.0f} ms")
        time.sleep(11)
        print(f"  after 11 s (header_timeout 10 s): {still_open(held)} still open")
        for s in held:
            s.close()
    finally:
        daemon.terminate()
        daemon.wait()


def compression(binary, work, runs):
    items = "".join(
        f'<item><guid>g{n}</guid><title>Item {n}</title><link>https://b.example/{n}</link>'
        f'<pubDate>Mon, 18 Aug 2025 10:00:00 GMT</pubDate><description>'
        f'{html.escape("<p>" + " ".join(f"word{w * n}x{n}" for w in range(3500)) + "</p>")}'
        f'</description></item>' for n in range(300))
    (work / "big.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>'
        f'<link>https://b.example/</link><description>d</description>{items}</channel></rss>')
    port = free_port()
    outputs = "".join(f'\n[[outputs]]\npath = "public/big{n}.json"\nformat = "json"\n'
                      f'title = "B{n}"\nmax_items = 300\n' for n in range(1, 4))
    text = config('url = "file:big.xml"').replace('title = "x"', 'title = "x"\nmax_items = 300')
    text = text.replace("[[sources]]", outputs + "\n[[sources]]")
    text = text.replace('max_age = "0"', 'max_age = "0"\ninitial_items = 0')
    text += f'\n[serve]\nlisten = "127.0.0.1:{port}"\nroot = "public"\n[content]\nmax_size = "64KiB"\n'
    big = [work / f"public/big{n}.json" for n in range(1, 4)]
    quiet, busy = [], []
    # A daemon each run: it keeps the forms it made, and each run must make them again.
    for _ in range(runs):
        daemon = start_daemon(binary, work, text)
        try:
            assert wait_until(lambda: all(p.exists() and p.stat().st_size > 8_000_000
                                          for p in big) and get(port, "/big1.json", 5)[0] == 200,
                              120), "the outputs were not written"
            quiet.append(get(port, "/missing.xml")[1])
            threads = [threading.Thread(target=get, args=(port, f"/big{n}.json", 120,
                                                          {"Accept-Encoding": "br"}))
                       for n in range(1, 4)]
            for t in threads:
                t.start()
            time.sleep(0.2)  # the three requests under way
            busy.append(get(port, "/missing.xml")[1])
            for t in threads:
                t.join()
        finally:
            daemon.terminate()
            daemon.wait()
    size = big[0].stat().st_size / 1e6
    print(f"a 404 while three {size:.1f} MB outputs are first compressed with brotli: "
          f"{statistics.median(busy) * 1000:.1f} ms (nothing else going on: "
          f"{statistics.median(quiet) * 1000:.1f} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--levels", default="12500,25000,50000,100000")
    parser.add_argument("--json-mb", type=float, default=13.6)
    parser.add_argument("--html-mb", type=float, default=13.5)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--only", default="nested,big,connections,compression")
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} is missing: cargo build --profile dist")
    only = args.only.split(",")
    # Room for the clients here; the daemon starts with systemd's soft limit (see start_daemon).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(8192, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        if "nested" in only:
            nested(args.binary, work, [int(n) for n in args.levels.split(",")], args.runs)
        if "big" in only:
            big_answers(args.binary, work, args.json_mb, args.html_mb, args.runs)
        if "connections" in only:
            connections(args.binary, work, args.clients)
        if "compression" in only:
            compression(args.binary, work, args.runs)


if __name__ == "__main__":
    main()
