#!/usr/bin/env python3
"""Several instances on one PostgreSQL: 1, 2 and 3 `tributary run` daemons share one database
over the same local farm (nginx on 127.0.0.1). For each count, from a fresh database: the wall
time until every source has been polled once, the CPU time of all daemons together and of the
busiest, peak RSS per daemon, requests the farm answered (each feed once: more would be a
double poll) and items stored. The median of --runs runs.

On 2 cores the point is what an instance costs, not a speed-up. Never-polled sources are
spread over the daemon's first 30 s (100 ms a source, at most 30 s), so the wall time of small
farms is that spread.

    apt-get install nginx-light postgresql
    cargo build --profile dist
    eval "$(bash .ci/postgres)"
    python3 bench/instances.py --feeds 1000 --runs 3 --postgres "$TEST_POSTGRES_URL"

Not run by CI.
"""
import argparse
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from run import FARM, ROOT, access_counts, nginx  # bench/run.py


def psql(url, sql):
    return subprocess.run(["psql", "-qAtX", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def cpu_and_rss(pid):
    """CPU seconds (user + system) and peak RSS in MB of a live process."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return ticks / 100, peak / 1024


def one_run(count, urls, args, log):
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-instances-{count}-"))
    database = f"bench_instances_{count}_{int(time.time())}"
    psql(args.postgres, f"CREATE DATABASE {database}")
    url = args.postgres.rsplit("/", 1)[0] + "/" + database
    daemons = []
    try:
        for n in range(count):
            folder = work / f"instance{n}"
            folder.mkdir()
            config = [f'[database]\nurl = "{url}"\nlease = "30s"',
                      '[poll]\ninterval = "1h"\nconcurrency = 32\nper_host_concurrency = 32',
                      '[retention]\nmax_age = "0"\ninitial_items = 0',
                      '[[outputs]]\npath = "public/feed.xml"\nmax_items = 200']
            config += [f'[[sources]]\nurl = "{u}"' for u in urls]
            (folder / "tributary.toml").write_text("\n\n".join(config) + "\n")
        since = len(log.read_text().splitlines()) if log.exists() else 0
        started = time.monotonic()
        for n in range(count):
            folder = work / f"instance{n}"
            daemons.append(subprocess.Popen(
                [args.binary, "--config", str(folder / "tributary.toml"), "run"],
                stdout=subprocess.DEVNULL, stderr=open(folder / "daemon.log", "w")))
        polled = "SELECT count(*) FROM sources WHERE last_poll_at IS NOT NULL"
        while True:
            if any(d.poll() is not None for d in daemons):
                sys.exit(f"a daemon exited; see {work}")
            try:
                if int(psql(url, polled)) >= len(urls):
                    break
            except subprocess.CalledProcessError:
                pass  # the schema is not there yet
            time.sleep(0.2)
        wall = time.monotonic() - started
        costs = [cpu_and_rss(d.pid) for d in daemons]
        requests, _ = access_counts(log, since)
        return dict(wall=wall, cpu=sum(c for c, _ in costs), busiest=max(c for c, _ in costs),
                    rss=max(r for _, r in costs), requests=requests,
                    items=int(psql(url, "SELECT count(*) FROM items")))
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait()
        psql(args.postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", required=True,
                        help="a database that may create databases (the one .ci/postgres prints)")
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-instances-farm-"))
    work.chmod(0o755)  # nginx's workers run as another user
    farm = work / "farm"
    subprocess.run([sys.executable, str(FARM), str(farm), "--feeds", str(args.feeds),
                    "--items", str(args.items)], check=True, capture_output=True)
    port = 18180
    server = nginx(work, farm, port)
    urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(args.feeds)]
    runs = {count: [] for count in (1, 2, 3)}
    try:
        # Counts take turns, run after run, as in run.py.
        for _ in range(args.runs):
            for count in runs:
                runs[count].append(one_run(count, urls, args, work / "access.log"))
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.feeds} feeds of {args.items} items, median of {args.runs} runs")
    print(f"{'instances':>9} {'wall s':>8} {'cpu s':>8} {'busiest':>8} {'RSS MB':>7} "
          f"{'requests':>9} {'items':>7}")
    medians = {}
    for count, results in runs.items():
        m = {key: statistics.median(r[key] for r in results) for key in results[0]}
        medians[count] = m
        print(f"{count:>9} {m['wall']:8.2f} {m['cpu']:8.2f} {m['busiest']:8.2f} {m['rss']:7.1f} "
              f"{m['requests']:9.0f} {m['items']:7.0f}")
    for count in (2, 3):
        print(f"{count} instances vs 1: CPU in all {medians[count]['cpu'] / medians[1]['cpu']:.2f}x, "
              f"busiest instance {medians[count]['busiest'] / medians[1]['cpu']:.2f}x")


if __name__ == "__main__":
    main()
