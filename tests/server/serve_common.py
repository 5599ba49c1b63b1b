"""Helpers for the server's Python tests: start smolvk-serve on a free port, wait for /health."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE


def binary(env, name):
    path = os.environ.get(env)
    if not path or not os.path.exists(path):
        sys.exit(f"{env} is not set to the built {name} (run through ctest)")
    return path


class Server:
    def __init__(self, *args):
        self.err = tempfile.NamedTemporaryFile(prefix="smolvk_serve_", suffix=".log", delete=False)
        self.proc = subprocess.Popen([binary("SMOLVK_SERVE", "smolvk-serve"), "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = None
        deadline = time.time() + 60
        while self.port is None and time.time() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise RuntimeError("smolvk-serve exited:\n" + self.log())
            else:
                time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port}"
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health") as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.05)
        raise RuntimeError("smolvk-serve not ready after 60 s:\n" + self.log())

    def log(self):
        with open(self.err.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        log = self.log()
        os.unlink(self.err.name)
        assert code == 0, f"smolvk-serve exited {code}:\n{log}"
        assert "Vulkan validation" not in log, log


def post_json(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def parse_sse(text):
    """Token ids, text, finish_reason and whether [DONE] came, from an SSE body."""
    ids, content, finish, done = [], "", None, False
    for event in text.split("\n\n"):
        if not event.startswith("data: "):
            continue
        payload = event[6:]
        if payload == "[DONE]":
            done = True
            continue
        chunk = json.loads(payload)
        ids += chunk.get("smolvk", {}).get("token_ids", [])
        for choice in chunk.get("choices", []):
            content += choice["delta"].get("content", "")
            finish = choice.get("finish_reason") or finish
    return ids, content, finish, done
