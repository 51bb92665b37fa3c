#!/usr/bin/env python3
"""The built-in server against nginx (one worker), serving the same demo files on 127.0.0.1,
measured with wrk -t2 -c64: requests per second, plain and gzip (and brotli for Tributary, which
nginx-light cannot do), medians of several rounds in which the two take turns.

    apt-get install nginx-light wrk
    cargo build --profile dist
    python3 bench/serve.py --rounds 5 --seconds 5
"""

import argparse
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, process, what):
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} does not listen on {port}")


def nginx(work, folder, port):
    conf = work / "nginx.conf"
    conf.write_text(f"""
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ application/atom+xml xml; text/html html; application/rss+xml rss; }}
  etag on; gzip on; gzip_types application/atom+xml application/rss+xml; gzip_min_length 256;
  client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
  uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
  server {{ listen 127.0.0.1:{port}; root {folder}; }}
}}
""")
    (work / "tmp").mkdir(exist_ok=True)
    process = subprocess.Popen(["nginx", "-c", str(conf)], stderr=subprocess.DEVNULL)
    wait_listening(port, process, "nginx")
    return process


def wrk(url, seconds, encoding):
    command = ["wrk", "-t2", "-c64", f"-d{seconds}s", url]
    if encoding:
        command[1:1] = ["-H", f"Accept-Encoding: {encoding}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"errors from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--file", default="feed.xml", help="the file asked for")
    parser.add_argument("--binary", default=str(ROOT / "target/dist/tributary"),
                        help="the build to measure (another one, to compare builds)")
    args = parser.parse_args()
    binary = args.binary
    work = pathlib.Path(tempfile.mkdtemp(prefix="serve-bench-"))
    work.chmod(0o755)  # nginx's worker runs as another user
    try:
        shutil.copytree(ROOT / "config", work / "config")
        port = free_port()
        config = (work / "config/demo.toml").read_text()
        config += f'\n[serve]\nlisten = "127.0.0.1:{port}"\nroot = "../demo-out/public/"\n'
        (work / "config/demo.toml").write_text(config)
        subprocess.run([binary, "--config", work / "config/demo.toml", "once"],
                       check=True, capture_output=True)
        folder = work / "demo-out/public"
        for p in [work / "demo-out", folder, *folder.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        size = (folder / args.file).stat().st_size
        daemon = subprocess.Popen([binary, "--config", work / "config/demo.toml", "run"],
                                  stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wait_listening(port, daemon, "tributary")
        nginx_port = free_port()
        server = nginx(work, folder, nginx_port)
        urls = {"tributary": f"http://127.0.0.1:{port}/{args.file}",
                "nginx": f"http://127.0.0.1:{nginx_port}/{args.file}"}
        kinds = [("plain", None), ("gzip", "gzip"), ("br", "br")]
        results = {(who, kind): [] for who in urls for kind, _ in kinds}
        for _ in range(args.rounds):
            for kind, encoding in kinds:
                for who, url in urls.items():
                    if who == "nginx" and kind == "br":
                        continue
                    results[(who, kind)].append(wrk(url, args.seconds, encoding))
        server.terminate()
        daemon.terminate()
        print(f"{args.file} ({size} bytes), wrk -t2 -c64 -d{args.seconds}s, "
              f"medians of {args.rounds} rounds (requests/s)")
        for kind, _ in kinds:
            ours = statistics.median(results[("tributary", kind)])
            theirs = results[("nginx", kind)]
            if theirs:
                theirs = statistics.median(theirs)
                print(f"  {kind:6} tributary {ours:9.0f}   nginx {theirs:9.0f}   "
                      f"ratio {ours / theirs:.2f}")
            else:
                print(f"  {kind:6} tributary {ours:9.0f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
