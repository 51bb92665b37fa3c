#!/usr/bin/env python3
"""What search costs, on the bench farm (N feeds of M items; 1,000 x 1,000 is issue 37's
million): for this build (`--after`) and, in turn, one without search (`--before`), the median
of `--runs` of each:

- cold ingest: `tributary once` into an empty database (wall, CPU, peak RSS), and the
  database's size after it: what the index adds;
- indexing an existing database: the `--before` build's database of the last run, searched by
  this build (the migration, then every item indexed);
- latency: this build's daemon on that database, asked `/search.json?q=…&limit=20` over HTTP
  (what a reader waits for: the search, 20 items read, the feed written), p50 and p95 over
  each kind of query, `--repeat` times each query. The words come from the farm's lexicon of
  names, whose frequencies follow Zipf's law: a word of rank r is in about 85 % of the items
  at r = 1, 15 % at 10, 1.3 % at 100, 0.13 % at 1,000. "every item" is a word of the farm's
  20-word vocabulary, in every item: the worst case, not a goal.

    apt-get install nginx-light time
    cargo build --profile dist
    git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --profile dist)
    python3 bench/search.py --before /tmp/before/target/dist/tributary --runs 2 \\
        --farm /var/tmp/farm1000x1000

Not run by CI.
"""
import argparse
import json
import os
import pathlib
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import farm  # noqa: E402
from run import ROOT, nginx, timed  # noqa: E402


def config(urls, listen=None):
    parts = ['[database]\npath = "state/tributary.db"',
             '[poll]\ninterval = "24h"\nconcurrency = 32\nper_host_concurrency = 32',
             '[retention]\nmax_age = "0"\ninitial_items = 0',
             '[[outputs]]\npath = "public/feed.xml"\nmax_items = 200']
    if listen:
        parts.append(f'[serve]\nlisten = "{listen}"\nroot = "public"')
    parts += [f'[[sources]]\nurl = "{u}"' for u in urls]
    return "\n\n".join(parts) + "\n"


def database_bytes(work):
    return sum(p.stat().st_size for p in (work / "state").glob("tributary.db*"))


def ingest(binary, farm_dir, feeds, port):
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-search-"))
    work.chmod(0o755)
    server = nginx(work, farm_dir, port)
    try:
        urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)]
        (work / "tributary.toml").write_text(config(urls))
        result = timed([binary, "--config", str(work / "tributary.toml"), "once"])
        return work, result, database_bytes(work)
    finally:
        server.terminate()
        server.wait()


def queries(rng):
    """Each kind of query, eight of each, from the farm's lexicon by rank."""
    word = lambda rank: farm.LEXICON[rank - 1]
    ranks = [2, 5, 10, 30, 100, 300, 1000, 5000]
    # Phrases that exist: two names side by side in some item's text.
    phrases = []
    for feed in rng.sample(range(1000), 8):
        body = farm.items_for(feed, 1, 0, random.Random(feed))[0]["body"]
        names = body.split("<p>")[2].split("</p>")[0].split()
        at = rng.randrange(len(names) - 1)
        phrases.append(f'"{names[at]} {names[at + 1]}"')
    return {
        "one word": [word(r) for r in ranks],
        "two words": [f"{word(a)} {word(b)}" for a, b in
                      [(2, 10), (5, 30), (10, 100), (3, 300), (30, 1000), (2, 5), (100, 100 + 1), (20, 50)]],
        "a phrase": phrases,
        "an OR": [f"{word(a)} OR {word(b)}" for a, b in
                  [(10, 20), (30, 40), (100, 200), (5, 1000), (300, 3000), (50, 60), (7, 8), (1000, 2000)]],
        "a field and a word": [f"title:{word(a)} {word(b)}" for a, b in
                               [(2, 10), (5, 30), (10, 100), (30, 5), (100, 3), (300, 2), (20, 20 + 1), (1000, 4)]],
        "every item (worst case)": ["council", "river market", '"coast council"', "rail OR bridge"],
    }


def latency(binary, work, farm_dir, feeds, repeat, rng):
    # The farm on the port the database's sources were stored with: on another, they would
    # be new sources, polled while the searches are timed.
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", (work / "tributary.toml").read_text())[1])
    listen_port = port + 100
    server = nginx(work, farm_dir, port)
    urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)]
    (work / "serve.toml").write_text(config(urls, f"127.0.0.1:{listen_port}"))
    daemon = subprocess.Popen([binary, "--config", str(work / "serve.toml"), "run"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{listen_port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/opensearch.xml", timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        results = {}
        asked_all = queries(rng)
        # Once each first, untimed: the steady state of a server, not a cold page cache.
        for asked in asked_all.values():
            for query in asked:
                url = f"{base}/search.json?" + urllib.parse.urlencode({"q": query, "limit": 20})
                try:
                    urllib.request.urlopen(url, timeout=30).read()
                except urllib.error.HTTPError:
                    pass
        for kind, asked in asked_all.items():
            times, found = [], []
            for query in asked:
                url = f"{base}/search.json?" + urllib.parse.urlencode({"q": query, "limit": 20})
                for _ in range(repeat):
                    started = time.monotonic()
                    try:
                        body = urllib.request.urlopen(url, timeout=30).read()
                        found.append(len(json.loads(body)["items"]))
                    except urllib.error.HTTPError as error:
                        found.append(f"HTTP {error.code}")
                    times.append((time.monotonic() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            results[kind] = (statistics.median(times), p95, found[::repeat])
        return results
    finally:
        daemon.terminate()
        daemon.wait()
        server.terminate()
        server.wait()


def print_latency(results, repeat):
    print(f"latency of /search.json?q=…&limit=20, best match first, {repeat} times each query")
    print(f"{'query':26} {'p50 ms':>8} {'p95 ms':>8}  items found per query")
    for kind, (p50, p95, found) in results.items():
        print(f"{kind:26} {p50:8.1f} {p95:8.1f}  {found}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--after", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--before", help="a build without search, run in turn with --after")
    parser.add_argument("--farm", type=pathlib.Path, help="keep the farm here")
    parser.add_argument("--latency-on", type=pathlib.Path,
                        help="only the latency, on a database --keep kept")
    parser.add_argument("--keep", action="store_true",
                        help="keep this build's database of the last run (its folder is printed)")
    args = parser.parse_args()
    farm_dir = args.farm or pathlib.Path(tempfile.mkdtemp(prefix="bench-search-farm-"))
    farm_dir.mkdir(parents=True, exist_ok=True)
    farm_dir.chmod(0o755)
    subprocess.run([sys.executable, str(ROOT / "bench/farm.py"), str(farm_dir),
                    "--feeds", str(args.feeds), "--items", str(args.items)], check=True,
                   capture_output=True)
    if args.latency_on:
        print_latency(latency(args.after, args.latency_on, farm_dir, args.feeds, args.repeat,
                              random.Random(37)), args.repeat)
        return
    builds = [("after", args.after)] + ([("before", args.before)] if args.before else [])
    cold = {name: [] for name, _ in builds}
    kept = {}
    for run in range(args.runs):
        for index, (name, binary) in enumerate(builds):
            work, result, size = ingest(binary, farm_dir, args.feeds, 18280 + index)
            cold[name].append((*result, size / 1e6))
            os.sync()
            if name in kept:
                shutil.rmtree(kept[name], ignore_errors=True)
            kept[name] = work
    print(f"{args.feeds} feeds of {args.items} items; cold ingest, median of {args.runs}")
    print(f"{'build':7} {'wall s':>8} {'cpu s':>8} {'RSS MB':>8} {'db MB':>8}")
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    for name, rows in cold.items():
        print(f"{name:7} {med(rows, 0):8.1f} {med(rows, 1):8.1f} {med(rows, 2):8.1f} {med(rows, 3):8.0f}")
    if args.before:
        ratios = [med(cold["after"], i) / med(cold["before"], i) for i in range(4)]
        print(f"after/before: wall {ratios[0]:.3f}x cpu {ratios[1]:.3f}x RSS {ratios[2]:.2f}x "
              f"database {ratios[3]:.3f}x")
        # The old database, indexed by this build: the migration, then every item.
        old = kept["before"]
        (old / "search.toml").write_text((old / "tributary.toml").read_text())
        wall, cpu, rss = timed([args.after, "--config", str(old / "search.toml"), "search",
                                "fija", "--limit", "1"])
        print(f"indexing the existing database: {wall:.1f} s wall, {cpu:.1f} s cpu, {rss:.0f} MB RSS; "
              f"database {database_bytes(old) / 1e6:.0f} MB after")
    results = latency(args.after, kept["after"], farm_dir, args.feeds, args.repeat,
                      random.Random(37))
    print_latency(results, args.repeat)
    for name, work in kept.items():
        if args.keep and name == "after":
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not args.farm:
        shutil.rmtree(farm_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
