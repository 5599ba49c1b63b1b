#!/usr/bin/env python3
"""Two smolvk-serve replicas on loopback behind nginx (Debian's nginx-light, run in the
foreground with a temporary config): requests through nginx reach both replicas (each one's
/metrics counts tokens), /health passes through, and when one replica stops the other takes
every request."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from serve_common import SKIP, Server, post_json

CONFIG = """
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream smolvk {{
    server 127.0.0.1:{a} max_fails=1 fail_timeout=10s;
    server 127.0.0.1:{b} max_fails=1 fail_timeout=10s;
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 32m;
    location / {{
      proxy_pass http://smolvk;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_read_timeout 300s;
      proxy_next_upstream error timeout http_503;
    }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def completion_tokens(url):
    with urllib.request.urlopen(url + "/metrics") as r:
        m = re.search(r"^smolvk_completion_tokens_total (\d+)", r.read().decode(), re.M)
    return int(m.group(1))


def main():
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        print("SKIP: nginx not installed (apt-get install nginx-light)")
        sys.exit(SKIP)
    a, b = Server(), Server()
    tmp = tempfile.mkdtemp(prefix="smolvk_nginx_")
    port = free_port()
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(CONFIG.format(tmp=tmp, a=a.port, b=b.port, port=port))
    proc = subprocess.Popen([nginx, "-e", os.path.join(tmp, "error.log"), "-p", tmp, "-c", os.path.join(tmp, "nginx.conf")])
    front = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(front + "/health") as r:
                    assert r.status == 200
                break
            except OSError:
                time.sleep(0.05)
        body = {"messages": [{"role": "user", "content": "through nginx"}], "max_tokens": 2, "ignore_eos": True}
        for _ in range(4):
            r = post_json(front + "/v1/chat/completions", body)
            assert len(r["smolvk"]["token_ids"]) == 2, r
        counts = completion_tokens(a.url), completion_tokens(b.url)
        print("completion tokens per replica:", counts)
        assert counts[0] > 0 and counts[1] > 0, f"nginx did not spread requests over both replicas: {counts}"
        # One replica goes away: every request still succeeds, on the other.
        a.stop()
        before = completion_tokens(b.url)
        for _ in range(2):
            post_json(front + "/v1/chat/completions", body)
        assert completion_tokens(b.url) == before + 4
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if a.proc.poll() is None:
            a.stop()
        b.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
