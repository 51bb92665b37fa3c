#!/usr/bin/env python3
"""Benchmark driver: Tributary's `once` (and, with --peers, newsboat and Python's reader) on the
same local feed farm served by nginx on 127.0.0.1, through three steps: cold (empty database),
warm (nothing changed: conditional GETs, 304s) and incremental (a tenth of the feeds changed).
Prints wall time, CPU time, peak RSS (/usr/bin/time -v), items stored, requests and 304s per
step; with --runs N, the median of N runs, and the ratio to each peer. Three more steps measure
Tributary's `status` on what the steps before stored: `status` (the command alone, reading the
database), `daemon-status` (answered by a `tributary run` daemon started on it: its first ask,
which reads every row, is printed; the median of 5 more, answered from what the daemon kept; its
RSS before and after) and `busy-status` (the same, 2 s apart, while the daemon re-polls a tenth
of the sources, made due before it starts: at 100,000 feeds, 10,000 polls over about 30 s).

    apt-get install nginx-light time newsboat && pip install reader sgmllib3k
    cargo build --profile dist
    python3 bench/run.py --feeds 1000 --runs 3 --peers

Not run by CI.
"""
import argparse
import contextlib
import os
import pathlib
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
FARM = ROOT / "bench/farm.py"


def nginx(work, farm, port):
    conf = work / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log {work}/access.log;
  types {{ application/xml xml; }}
  etag on; gzip on; gzip_types application/xml; gzip_min_length 256;
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{port}; root {farm}; }}
}}
""")
    (work / "tmp").mkdir(exist_ok=True)
    process = subprocess.Popen(["nginx", "-c", str(conf)], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return process


def access_counts(log, since_line):
    lines = pathlib.Path(log).read_text().splitlines()[since_line:]
    return len(lines), sum(1 for l in lines if '" 304 ' in l)


def timed(command, cwd=None, env=None):
    """Runs `command` under /usr/bin/time -v: wall s, CPU s, peak RSS MB."""
    return timed_with_log(command, cwd, env)[:3]


def timed_with_log(command, cwd=None, env=None):
    """`timed`, and what the command wrote on stderr (its log) before time's report."""
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=cwd, env=env,
                            capture_output=True, text=True)
    wall = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    value = lambda name: float(re.search(rf"{name}: ([\d.]+)", result.stderr).group(1))
    cpu = value("User time \\(seconds\\)") + value("System time \\(seconds\\)")
    log = result.stderr.split("\tCommand being timed:")[0]
    return wall, cpu, value("Maximum resident set size \\(kbytes\\)") / 1024, log


class Tributary:
    name = "tributary"

    def __init__(self, work, urls, binary, rules=0):
        self.work, self.binary = work, binary
        config = ['[database]\npath = "state/tributary.db"',
                  # The farm is one host; real feeds are many.
                  '[poll]\nconcurrency = 32\nper_host_concurrency = 32',
                  '[retention]\nmax_age = "0"\ninitial_items = 0',
                  '[[outputs]]\npath = "public/feed.xml"\nmax_items = 200']
        config += RULES[:rules]
        if rules:
            config.append('[dedup]\nstrip_query = ["utm_*", "fbclid", "mc_eid"]')
        config += [f'[[sources]]\nurl = "{u}"' for u in urls]
        (work / "tributary.toml").write_text("\n\n".join(config) + "\n")

    def run(self):
        return timed([self.binary, "--config", str(self.work / "tributary.toml"), "once"])

    def items(self):
        db = sqlite3.connect(self.work / "state/tributary.db")
        return db.execute("SELECT count(*) FROM items").fetchone()[0]

    def status(self):
        return timed([self.binary, "--config", str(self.work / "tributary.toml"), "status"])

    @contextlib.contextmanager
    def daemon(self):
        """A `tributary run` daemon on the work folder, started (its log says so) and stopped."""
        log_path = self.work / "daemon.log"
        with open(log_path, "w") as log:
            daemon = subprocess.Popen(
                [self.binary, "--config", str(self.work / "tributary.toml"), "run"],
                stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, RUST_LOG="info"))
        try:
            deadline = time.monotonic() + 600
            while "daemon started" not in log_path.read_text():
                if daemon.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the daemon did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield daemon
        finally:
            daemon.terminate()
            daemon.wait()

    def daemon_status(self):
        """`status` with a daemon running (nothing is due after a cold step): the first ask
        reads every row, the next are answered from what the daemon kept; the median of the 5
        after the first."""
        with self.daemon() as daemon:
            rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", pathlib.Path(
                f"/proc/{daemon.pid}/status").read_text()).group(1)) / 1024
            before = rss()
            first = self.status()
            asks = [self.status() for _ in range(5)]
            print(f"daemon-status: first ask {first[0]:.2f} s; daemon RSS {before:.0f} MB before "
                  f"6 asks of status, {rss():.0f} MB after", file=sys.stderr)
            return tuple(statistics.median(ask[i] for ask in asks) for i in range(3))

    def busy_status(self):
        """`status` while the daemon re-polls a tenth of the sources, made due before it starts:
        the median of 5 asks, 2 s apart, after a first ask that reads every row."""
        db = sqlite3.connect(self.work / "state/tributary.db")
        db.execute("UPDATE sources SET next_poll_at = unixepoch() - 60 WHERE id % 10 = 0")
        db.commit()
        db.close()
        with self.daemon():
            self.status()
            asks = []
            for _ in range(5):
                time.sleep(2)
                asks.append(self.status())
            polled = (self.work / "daemon.log").read_text().count("polled")
            print(f"busy-status: {polled} polls recorded by the last ask", file=sys.stderr)
            return tuple(statistics.median(ask[i] for ask in asks) for i in range(3))


# Twenty rules of the kinds users write: tags by what items say (HTML read as text), drops by
# title, author, category and link, a keep scoped to nothing that exists (so it never hides).
RULES = [
    f'[[rules]]\nwhen = {{ any = "(?i)\\\\b{word}" }}\naction = "tag"\ntag = "{word}"'
    for word in ("ukrain", "budget", "harbour", "council", "election", "climate", "energy",
                 "transport")
] + [
    f'[[rules]]\nwhen = {{ title = "(?i){word}" }}\naction = "drop"'
    for word in ("sponsored", "advertorial", "job ad", "webinar")
] + [
    '[[rules]]\nwhen = { author = "^Press Office$" }\naction = "drop"',
    '[[rules]]\nwhen = { category = "(?i)^(ads|promo)$" }\naction = "drop"',
    '[[rules]]\nwhen = { link = "/sponsored/" }\naction = "drop"',
    '[[rules]]\nwhen = { summary = "(?i)partner content" }\naction = "drop"',
    '[[rules]]\nwhen = { content = "(?i)this post is sponsored" }\naction = "drop"',
    '[[rules]]\nwhen = { title = "(?i)weekly digest", older_than = "3650d" }\naction = "drop"',
    '[[rules]]\ntags = ["none"]\nwhen = { title = "x" }\naction = "keep"',
    '[[rules]]\nwhen = { any = "(?i)breaking", newer_than = "1d" }\naction = "tag"\ntag = "breaking"',
]


class TributaryPostgres(Tributary):
    """The same, storing in PostgreSQL (`--postgres URL`): a fresh database for each run."""
    name = "tributary+pg"
    admin = None

    def __init__(self, work, urls, binary):
        super().__init__(work, urls, binary)
        self.database = "bench_" + re.sub(r"[^a-z0-9]", "_", work.name.lower())
        self.psql(self.admin, f"DROP DATABASE IF EXISTS {self.database}")
        self.psql(self.admin, f"CREATE DATABASE {self.database}")
        self.url = self.admin.rsplit("/", 1)[0] + "/" + self.database
        config = (work / "tributary.toml").read_text()
        (work / "tributary.toml").write_text(config.replace(
            'path = "state/tributary.db"', f'url = "{self.url}"', 1))

    @staticmethod
    def psql(url, sql):
        return subprocess.run(["psql", "-qAtX", url, "-c", sql], check=True,
                              capture_output=True, text=True).stdout.strip()

    def items(self):
        return int(self.psql(self.url, "SELECT count(*) FROM items"))


class TributaryRules(Tributary):
    name = "tributary+rules"

    def __init__(self, work, urls, binary):
        super().__init__(work, urls, binary, rules=len(RULES))


class Newsboat:
    name = "newsboat"

    def __init__(self, work, urls):
        self.work = work
        (work / "urls").write_text("\n".join(urls) + "\n")
        (work / "config").write_text("")

    def run(self):
        return timed(["newsboat", "-x", "reload", "-u", str(self.work / "urls"),
                      "-c", str(self.work / "cache.db"), "-C", str(self.work / "config")],
                     env={**os.environ, "HOME": str(self.work)})

    def items(self):
        return sqlite3.connect(self.work / "cache.db").execute(
            "SELECT count(*) FROM rss_item").fetchone()[0]


class Reader:
    name = "reader"
    SCRIPT = """
import sys
from reader import make_reader
r = make_reader(sys.argv[1])
for url in open(sys.argv[2]).read().split():
    r.add_feed(url, exist_ok=True)
r.update_feeds(workers=16, scheduled=False)
"""

    def __init__(self, work, urls):
        self.work = work
        (work / "urls").write_text("\n".join(urls) + "\n")
        (work / "update.py").write_text(self.SCRIPT)

    def run(self):
        return timed([sys.executable, str(self.work / "update.py"), str(self.work / "db.sqlite"),
                      str(self.work / "urls")])

    def items(self):
        from reader import make_reader
        return make_reader(str(self.work / "db.sqlite")).get_entry_counts().total


def one_run(tool_class, feeds, items, port_base, extra, kept_farm=None,
            steps=("cold", "warm", "incremental")):
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{tool_class.name}-"))
    work.chmod(0o755)  # nginx's workers run as another user
    size = ["--feeds", str(feeds), "--items", str(items)]
    farm = kept_farm or work / "farm"
    if not (farm / f"{feeds - 1}.xml").exists():
        subprocess.run([sys.executable, str(FARM), str(farm), *size], check=True,
                       capture_output=True)
    port = port_base
    server = nginx(work, farm, port)
    try:
        urls = [f"http://127.0.0.1:{port}/{n}.xml" for n in range(feeds)]
        tool = tool_class(work, urls, *extra)
        results = {}
        for step in steps:
            if step == "incremental":
                subprocess.run([sys.executable, str(FARM), str(farm), *size, "--round", "1"],
                               check=True, capture_output=True)
            log = work / "access.log"
            since = len(log.read_text().splitlines()) if log.exists() else 0
            run = {"status": getattr(tool, "status", None),
                   "daemon-status": getattr(tool, "daemon_status", None),
                   "busy-status": getattr(tool, "busy_status", None)}.get(step, tool.run)
            if run is None:
                continue
            wall, cpu, rss = run()
            requests, not_modified = access_counts(log, since)
            results[step] = dict(wall=wall, cpu=cpu, rss=rss, items=tool.items(),
                                 requests=requests, not_modified=not_modified)
        return results
    finally:
        server.send_signal(signal.SIGQUIT)
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30,
                        help="items per feed (600 makes feeds of about 1 MB, for memory)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers", action="store_true", help="also run newsboat and reader")
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"))
    parser.add_argument("--postgres", metavar="URL",
                        help="also run tributary on PostgreSQL (a database that may create "
                             "databases, e.g. the one `.ci/postgres` prints)")
    parser.add_argument("--rules", action="store_true",
                        help="also run tributary with 20 rules and [dedup] strip_query")
    parser.add_argument("--farm", metavar="DIR", type=pathlib.Path,
                        help="keep the farm in DIR (made there unless it holds one), for runs "
                             "at 100,000 feeds; use --steps cold,warm, as the incremental step "
                             "rewrites a tenth of it")
    parser.add_argument("--steps", default="cold,warm,incremental",
                        help="which steps to run, comma-separated: cold, warm, incremental, "
                             "status, daemon-status, busy-status")
    args = parser.parse_args()
    steps = tuple(args.steps.split(","))
    if args.farm:
        args.farm = args.farm.resolve()
        args.farm.parent.mkdir(parents=True, exist_ok=True)
        args.farm.parent.chmod(0o755)  # nginx's workers run as another user
    tools = [(Tributary, (args.binary,))]
    if args.rules:
        tools += [(TributaryRules, (args.binary,))]
    if args.postgres:
        TributaryPostgres.admin = args.postgres
        tools += [(TributaryPostgres, (args.binary,))]
    if args.peers:
        tools += [(Newsboat, ()), (Reader, ())]
    # Tools take turns, run after run, so that a machine getting busier or quieter weighs on
    # each alike.
    runs = {tool.name: [] for tool, _ in tools}
    for _ in range(args.runs):
        for index, (tool, extra) in enumerate(tools):
            runs[tool.name].append(one_run(tool, args.feeds, args.items, 18080 + index, extra,
                                           args.farm, steps))
    medians = {
        name: {
            step: {key: statistics.median(r[step][key] for r in rs) for key in rs[0][step]}
            for step in rs[0]
        }
        for name, rs in runs.items()
    }
    print(f"{args.feeds} feeds of {args.items} items, median of {args.runs} runs")
    print(f"{'tool':10} {'step':13} {'wall s':>8} {'cpu s':>8} {'RSS MB':>8} {'items':>7} {'requests':>9} {'304s':>6}")
    for name, steps in medians.items():
        for step, m in steps.items():
            print(f"{name:10} {step:13} {m['wall']:8.2f} {m['cpu']:8.2f} {m['rss']:8.1f} "
                  f"{m['items']:7.0f} {m['requests']:9.0f} {m['not_modified']:6.0f}")
    def against_plain(name, label):
        for what in ("wall", "cpu"):
            ratios = ", ".join(
                f"{step} {medians[name][step][what] / medians['tributary'][step][what]:.2f}x"
                for step in medians["tributary"] if step in medians[name])
            print(f"{label} ({what}, lower is better): {ratios}")

    if args.rules:
        against_plain("tributary+rules", "tributary with 20 rules vs without")
    if args.postgres:
        against_plain("tributary+pg", "tributary on PostgreSQL vs SQLite")
    if args.peers:
        for peer in ("newsboat", "reader"):
            ratios = ", ".join(
                f"{step} {medians[peer][step]['wall'] / medians['tributary'][step]['wall']:.1f}x"
                for step in medians["tributary"] if step in medians[peer])
            print(f"tributary vs {peer} (wall, higher is better): {ratios}")


if __name__ == "__main__":
    main()
