#!/usr/bin/env python3
"""What stories cost, on the bench farm (N feeds of M items; 1,000 x 1,000 is a million): for
this build (`--after`, stories on, as by default) and, in turn, one from before stories
(`--before`), the median of `--runs` of each:

- cold ingest: `tributary once` into an empty database (wall, CPU, peak RSS, database size);
- per new item: the time the store spends keying and grouping each poll's new items (its
  debug log, `stories: new items keyed and grouped`), divided by their number: the median
  over the cold ingest's polls, and over three rounds in which a share of the feeds
  (`--change`, 0.3) publish one new item into the million already stored and a running
  daemon polls them (`tributary poll`): apart for the sources it polls for the first time
  since its start (it reads each one's latest items once, for its boilerplate) and for
  those it polled before (its steady state);
- regrouping: this build's database of the last run, `once` again with `[stories]
  similarity` changed, which groups the million stored items again (its log says how long).

The farm's text is a 20-word vocabulary and a Zipf lexicon of names: far more alike than real
text, so more keys are shared by chance and more items are compared than in real feeds. Every
25th feed republishes the newest article of the feed before it under another link: those are
joined.

    apt-get install nginx-light time
    cargo build --profile dist
    git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --profile dist)
    python3 bench/stories.py --before /tmp/before/target/dist/tributary --runs 2 \\
        --farm /var/tmp/farm1000x1000

Not run by CI.
"""
import argparse
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from run import ROOT, nginx, timed_with_log  # noqa: E402
from search import config, database_bytes  # noqa: E402

def per_item_micros(log, sources=False):
    """Each poll's keying and grouping time per new item, from the debug log (with each
    poll's source, if `sources`)."""
    costs = []
    for line in log.splitlines():
        if "new items keyed and grouped" not in line:
            continue
        new = re.search(r"\bnew=(\d+)", line)
        micros = re.search(r"\bmicros=(\d+)", line)
        source = re.search(r'\bsource="?([^ "]+)', line)
        if new and micros and int(new[1]) > 0:
            cost = int(micros[1]) / int(new[1])
            costs.append((source[1] if source else "", cost) if sources else cost)
    return costs


def run_once(binary, work, farm_dir, feeds, port, extra=""):
    """`once` on the farm, with `extra` config; its config is kept in `work` (the sources
    stay those it was first run with)."""
    server = nginx(work, farm_dir, port)
    try:
        written = work / "tributary.toml"
        text = written.read_text() if written.exists() else config(
            [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)])
        (work / "tributary.toml").write_text(re.sub(r"\n\[stories\][^\[]*", "\n", text) + extra)
        env = dict(os.environ, RUST_LOG="warn,tributary=info,tributary::store::stories=debug")
        return timed_with_log([binary, "--config", str(work / "tributary.toml"), "once"],
                              env=env)
    finally:
        server.terminate()
        server.wait()


def farm_round(farm_dir, feeds, items, round_no, change=0.1):
    subprocess.run([sys.executable, str(ROOT / "bench/farm.py"), str(farm_dir), "--feeds",
                    str(feeds), "--items", str(items), "--round", str(round_no), "--change",
                    str(change)], check=True, capture_output=True)


def daemon_rounds(binary, work, farm_dir, feeds, items, rounds=2, change=0.1):
    """Per-item costs of each round of new items polled by one running daemon: those of
    sources it polls for the first time since its start, and those of sources it polled
    before (whose latest items it knows: its steady state)."""
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", (work / "tributary.toml").read_text())[1])
    server = nginx(work, farm_dir, port)
    env = dict(os.environ, RUST_LOG="warn,tributary::store::stories=debug")
    log_path = work / "daemon.log"
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([binary, "--config", str(work / "tributary.toml"), "run"],
                                  stdout=subprocess.DEVNULL, stderr=log, env=env)
    urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)]
    costs = []
    try:
        for _ in range(600):
            if (work / "state/tributary.sock").exists():
                break
            time.sleep(0.5)
        seen = set()
        for round_no in range(1, rounds + 1):
            farm_round(farm_dir, feeds, items, round_no, change)
            before = len(log_path.read_text().splitlines())
            subprocess.run([binary, "--config", str(work / "tributary.toml"), "poll", *urls],
                           check=True, capture_output=True, env=dict(os.environ, RUST_LOG="warn"))
            polled = per_item_micros("\n".join(log_path.read_text().splitlines()[before:]), True)
            costs.append(([c for s, c in polled if s not in seen],
                          [c for s, c in polled if s in seen]))
            seen.update(s for s, _ in polled)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
        server.terminate()
        server.wait()
    return costs


def print_rounds(rounds, stored):
    for round_no, (first, again) in enumerate(rounds, start=1):
        for label, costs in (("first poll since the start", first), ("polled before", again)):
            if costs:
                print(f"keying and grouping per new item into {stored} stored, round "
                      f"{round_no}, sources {label}: median {statistics.median(costs):.1f} µs, "
                      f"max {max(costs):.0f} µs over {len(costs)} polls")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--after", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--before", help="a build from before stories, run in turn")
    parser.add_argument("--farm", type=pathlib.Path, help="keep the farm here")
    parser.add_argument("--change", type=float, default=0.3,
                        help="the share of feeds with a new item in each round")
    parser.add_argument("--rounds-on", type=pathlib.Path,
                        help="only the rounds, on a database a run of this script kept")
    args = parser.parse_args()
    farm_dir = args.farm or pathlib.Path(tempfile.mkdtemp(prefix="bench-stories-farm-"))
    farm_dir.mkdir(parents=True, exist_ok=True)
    farm_dir.chmod(0o755)
    farm_round(farm_dir, args.feeds, args.items, 0)
    if args.rounds_on:
        print_rounds(daemon_rounds(args.after, args.rounds_on, farm_dir, args.feeds,
                                   args.items, 3, args.change), args.feeds * args.items)
        farm_round(farm_dir, args.feeds, args.items, 0)
        return
    builds = [("after", args.after)] + ([("before", args.before)] if args.before else [])
    cold = {name: [] for name, _ in builds}
    cold_per_item = []
    kept = None
    for run in range(args.runs):
        for index, (name, binary) in enumerate(builds):
            work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-stories-{name}-"))
            work.chmod(0o755)
            wall, cpu, rss, log = run_once(binary, work, farm_dir, args.feeds, 18380 + index)
            cold[name].append((wall, cpu, rss, database_bytes(work) / 1e6))
            if name == "after":
                cold_per_item += per_item_micros(log)
                if kept:
                    shutil.rmtree(kept, ignore_errors=True)
                kept = work
            else:
                shutil.rmtree(work, ignore_errors=True)
            os.sync()
    print(f"{args.feeds} feeds of {args.items} items; cold ingest, median of {args.runs}")
    print(f"{'build':7} {'wall s':>8} {'cpu s':>8} {'RSS MB':>8} {'db MB':>8}")
    med = lambda rows, i: statistics.median(r[i] for r in rows)
    for name, rows in cold.items():
        print(f"{name:7} {med(rows, 0):8.1f} {med(rows, 1):8.1f} {med(rows, 2):8.1f} "
              f"{med(rows, 3):8.0f}")
    if args.before:
        ratios = [med(cold["after"], i) / med(cold["before"], i) for i in range(4)]
        print(f"after/before: wall {ratios[0]:.3f}x cpu {ratios[1]:.3f}x RSS "
              f"{med(cold['after'], 2) - med(cold['before'], 2):+.0f} MB database "
              f"{ratios[3]:.3f}x")
    if cold_per_item:
        print(f"keying and grouping per new item in the cold ingest: median "
              f"{statistics.median(cold_per_item):.1f} µs over {len(cold_per_item)} polls")

    # A running daemon on the million stored: twice, a tenth of the feeds publish one item
    # and are polled at once. The first round after a start reads each polled source's latest
    # items once (its boilerplate); the second is the steady state.
    print_rounds(daemon_rounds(args.after, kept, farm_dir, args.feeds, args.items, 3,
                               args.change), args.feeds * args.items)
    farm_round(farm_dir, args.feeds, args.items, 0)

    # The settings change: every stored item grouped again.
    wall, cpu, rss, log = run_once(args.after, kept, farm_dir, args.feeds, 18380,
                                   "\n[stories]\nsimilarity = 0.6\n")
    took = re.search(r"took_ms=(\d+)", log)
    joined = re.search(r"joined=(\d+)", log)
    print(f"regrouping {args.feeds * args.items} items: "
          f"{int(took[1]) / 1000 if took else float('nan'):.1f} s "
          f"({joined[1] if joined else '?'} joined); the whole `once`: {wall:.1f} s wall, "
          f"{cpu:.1f} s cpu, {rss:.0f} MB RSS")
    shutil.rmtree(kept, ignore_errors=True)
    if not args.farm:
        shutil.rmtree(farm_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
