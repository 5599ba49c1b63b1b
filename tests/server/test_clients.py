#!/usr/bin/env python3
"""Real HTTP clients against smolvk-serve: Python's urllib and http.client, and curl, streamed
and not, get the token ids `smolvk run --json` gives for the same prompt and seed."""
import http.client
import json
import shutil
import subprocess
import sys

from serve_common import SKIP, Server, binary, parse_sse, post_json

PROMPT, TOKENS = "Tell me about the sea.", 6
SAMPLING = {"temperature": 0.9, "top_k": 50, "top_p": 0.95, "seed": 11}


def cli_reference():
    out = subprocess.run([binary("SMOLVK_CLI", "smolvk"), "run", "--prompt", PROMPT, "--max-new-tokens", str(TOKENS),
                          "--temperature", "0.9", "--top-k", "50", "--top-p", "0.95", "--seed", "11", "--ignore-eos",
                          "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def body(stream):
    return {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": TOKENS, "ignore_eos": True,
            "stream": stream, **SAMPLING}


def http_client_stream(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/v1/chat/completions", json.dumps(body(True)), {"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200, r.status
    assert r.getheader("Content-Type").startswith("text/event-stream")
    text = r.read().decode()
    conn.close()
    return parse_sse(text)


def curl(url, stream):
    out = subprocess.run(["curl", "-sS", "-N", "--fail-with-body", url + "/v1/chat/completions", "-H",
                          "Content-Type: application/json", "-d", json.dumps(body(stream))],
                         check=True, capture_output=True, text=True).stdout
    return parse_sse(out) if stream else json.loads(out)


def main():
    want = cli_reference()
    server = Server()
    failures = []

    def check(name, ids, text, finish="length"):
        print(f"{name}: {ids}")
        if ids != want["output_ids"] or text != want["text"] or finish != "length":
            failures.append(f"{name}: ids {ids} text {text!r} finish {finish} != {want['output_ids']} {want['text']!r}")

    try:
        r = post_json(server.url + "/v1/chat/completions", body(False))
        check("urllib", r["smolvk"]["token_ids"], r["choices"][0]["message"]["content"], r["choices"][0]["finish_reason"])
        if r["usage"] != {"prompt_tokens": len(want["input_ids"]), "completion_tokens": TOKENS,
                          "total_tokens": len(want["input_ids"]) + TOKENS}:
            failures.append(f"usage {r['usage']}")
        ids, text, finish, done = http_client_stream(server.port)
        check("http.client stream", ids, text, finish)
        if not done:
            failures.append("http.client stream: no data: [DONE]")
        if shutil.which("curl"):
            r = curl(server.url, False)
            check("curl", r["smolvk"]["token_ids"], r["choices"][0]["message"]["content"], r["choices"][0]["finish_reason"])
            ids, text, finish, done = curl(server.url, True)
            check("curl stream", ids, text, finish)
    finally:
        server.stop()
    if failures:
        sys.exit("\n".join(failures))
    if not shutil.which("curl"):
        print("SKIP curl: not installed (apt-get install curl)")
        sys.exit(SKIP)


if __name__ == "__main__":
    main()
