#!/usr/bin/env python3
"""What the site costs: `tributary once` on the bench farm (N feeds of M items, served by nginx
on 127.0.0.1) with `[site] pages` on and retention off, through the steps of issue 36's table,
for one or two builds taking turns in the same run (`--before` an older binary, `--after` this
one), the median of `--runs` of each:

- cold: the first run, an empty database: every item stored, the whole site written;
- nothing new: again, every feed answering 304;
- one new item: one feed gains one item;
- nothing new, site off: the same database with `[site]` left out of the config.

Prints wall and CPU seconds and peak RSS (/usr/bin/time -v), the site's files and bytes after
the cold run, and how many pages the new item rewrote; then, with two builds, after/before.

    apt-get install nginx-light time
    cargo build --profile dist
    git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --profile dist)
    python3 bench/site.py --before /tmp/before/target/dist/tributary --runs 5
    python3 bench/site.py --items 1000 --runs 1          # 1,000,000 items

Not run by CI.
"""
import argparse
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import farm  # noqa: E402
from run import ROOT, nginx, timed  # noqa: E402

STEPS = ("cold", "nothing new", "one new item", "nothing new, site off")


def config(urls, site):
    parts = ['[database]\npath = "state/tributary.db"',
             '[poll]\nconcurrency = 32\nper_host_concurrency = 32',
             '[retention]\nmax_age = "0"\ninitial_items = 0',
             '[[outputs]]\npath = "public/feed.xml"\nmax_items = 200']
    if site:
        parts.append('[site]\npages = "public/"')
    parts += [f'[[sources]]\nurl = "{u}"' for u in urls]
    return "\n\n".join(parts) + "\n"


def site_files(folder):
    files = [p for p in pathlib.Path(folder).rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in pathlib.Path(folder).rglob("*.html")}


def add_one_item(farm_dir, feeds, items):
    """Feed 0 gains one item: the farm's round 1 for that feed alone."""
    farm.CHANGE = 1.0
    entries = farm.items_for(0, items, 1, random.Random(0))
    (pathlib.Path(farm_dir) / "0.xml").write_bytes(farm.rss2(0, entries).encode())


def one_run(binary, farm_dir, feeds, items, port):
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-site-"))
    work.chmod(0o755)
    subprocess.run([sys.executable, str(ROOT / "bench/farm.py"), str(farm_dir),
                    "--feeds", str(feeds), "--items", str(items)], check=True,
                   capture_output=True)
    server = nginx(work, farm_dir, port)
    try:
        urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)]
        (work / "site.toml").write_text(config(urls, True))
        (work / "plain.toml").write_text(config(urls, False))
        once = lambda name: timed([binary, "--config", str(work / name), "once"])
        results = {"cold": once("site.toml")}
        results["files"] = site_files(work / "public")
        # The cold run's pages written back to disk first, so that the next steps measure
        # themselves, not the kernel flushing the last one's gigabytes.
        os.sync()
        results["nothing new"] = once("site.toml")
        before = mtimes(work / "public")
        add_one_item(farm_dir, feeds, items)
        results["one new item"] = once("site.toml")
        after = mtimes(work / "public")
        results["rewritten"] = sum(1 for p, t in after.items() if before.get(p) != t)
        os.sync()
        results["nothing new, site off"] = once("plain.toml")
        return results
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--after", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--before", help="an older build, run in turn with --after")
    parser.add_argument("--farm", type=pathlib.Path,
                        help="keep the farm here (made unless it holds one)")
    args = parser.parse_args()
    builds = [("after", args.after)] + ([("before", args.before)] if args.before else [])
    farm_dir = args.farm or pathlib.Path(tempfile.mkdtemp(prefix="bench-site-farm-"))
    farm_dir.mkdir(parents=True, exist_ok=True)
    farm_dir.chmod(0o755)
    runs = {name: [] for name, _ in builds}
    for _ in range(args.runs):
        # Builds take turns, so that a machine getting busier weighs on each alike.
        for index, (name, binary) in enumerate(builds):
            runs[name].append(one_run(binary, farm_dir, args.feeds, args.items, 18180 + index))
    med = lambda rs, step, i: statistics.median(r[step][i] for r in rs)
    print(f"{args.feeds} feeds of {args.items} items, [site] pages on, retention off; "
          f"median of {args.runs}")
    print(f"{'build':7} {'step':24} {'wall s':>8} {'cpu s':>8} {'RSS MB':>8}")
    for name, rs in runs.items():
        for step in STEPS:
            print(f"{name:7} {step:24} {med(rs, step, 0):8.2f} {med(rs, step, 1):8.2f} "
                  f"{med(rs, step, 2):8.1f}")
        files = statistics.median(r["files"][0] for r in rs)
        size = statistics.median(r["files"][1] for r in rs) / 1e6
        rewritten = statistics.median(r["rewritten"] for r in rs)
        print(f"{name:7} site after cold: {files:.0f} files, {size:.0f} MB; "
              f"pages the new item rewrote: {rewritten:.0f}")
    if args.before:
        for step in STEPS:
            ratios = [med(runs["after"], step, i) / med(runs["before"], step, i)
                      for i in range(3)]
            print(f"after/before {step:24} wall {ratios[0]:.2f}x cpu {ratios[1]:.2f}x "
                  f"RSS {ratios[2]:.2f}x")
    if not args.farm:
        shutil.rmtree(farm_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
