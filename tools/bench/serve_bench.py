#!/usr/bin/env python3
"""smolvk-serve under load: C concurrent streaming clients (default 1, 8, 32, 64), each asking
about one small image (one tile) for N new tokens (default 128, ignore_eos), against
`smolvk bench --batch C --tiles 1 --new-tokens N` on the same model. Python standard library only.

  tools/bench/serve_bench.py --model DIR                  # starts build/apps/smolvk-serve itself
  tools/bench/serve_bench.py --url http://127.0.0.1:8080  # a running server (--model for the bench)

Per concurrency: aggregate tokens/s (all tokens / wall time of the round), p50/p99 time to first
token and inter-token latency (client side, from SSE arrival times), and smolvk bench's decode
tokens/s at that batch with the ratio server / bench. --json writes the table as JSON. Each client
is a process of its own (--client-threads: threads of one process, whose shared interpreter lock
bunches the token times they see)."""
import argparse
import base64
import http.client
import itertools
import json
import multiprocessing
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def png_rows(width, height):
    """The filtered scanlines of a gradient RGB image (filter byte 0 before each row)."""
    return b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 128))
                    for y in range(height))


def png(width, height, tag=None, rows=None):
    """A gradient RGB PNG, written with zlib (no imaging library needed). `tag`: a number written
    into the first pixels, so that each tag gives different pixels (an image cache miss)."""
    rows = bytearray(rows or png_rows(width, height))
    if tag is not None:
        rows[1:9] = tag.to_bytes(8, "little")
    rows = bytes(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def one_client(url, body, headers, out):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, headers)
    r = conn.getresponse()
    if r.status != 200:
        out.append({"error": f"HTTP {r.status}: {r.read()[:200]!r}"})
        return
    times = []
    while True:
        line = r.readline()
        if not line:
            break
        if line.startswith(b"data: ") and b"token_ids" in line:
            times.append(time.perf_counter())
    conn.close()
    out.append({"start": t0, "times": times, "end": time.perf_counter()})


def client_process(url, body, headers, barrier, results):
    """One client in a process of its own, started with the others at the barrier."""
    out = []
    barrier.wait()
    try:
        one_client(url, body, headers, out)
    except Exception as e:  # reported as the client's error
        out.append({"error": repr(e)})
    results.put(out[0])


PHASES = ("smolvk_request_prepare_seconds", "smolvk_queue_wait_seconds", "smolvk_prefill_seconds")
COUNTERS = ("smolvk_decode_stall_seconds_total", "smolvk_prefill_held_total")


def scrape(url, headers):
    """The _sum and _count of the server's time-to-first-token phase histograms."""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/metrics", headers=headers)
    text = c.getresponse().read().decode()
    c.close()
    out = {}
    for line in text.splitlines():
        m = re.match(r'smolvk_inter_token_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            out.setdefault("itl_buckets", {})[m.group(1)] = float(m.group(2))
        for p in PHASES:
            for part in ("_sum", "_count"):
                if line.startswith(p + part + " "):
                    out[p + part] = float(line.split()[1])
        for c in COUNTERS:
            if line.startswith(c + " "):
                out[c] = float(line.split()[1])
    return out


def server_itl(before, after):
    """The server's own inter-token p50 and p99 between two scrapes, in ms, as the upper bounds of
    the histogram buckets they fall in (the server times a token when it hands it to the stream)."""
    b, a = before.get("itl_buckets", {}), after.get("itl_buckets", {})
    bounds = sorted((float("inf") if k == "+Inf" else float(k), a[k] - b.get(k, 0)) for k in a)
    total = bounds[-1][1] if bounds else 0
    out = {}
    for q in (50, 99):
        for le, cum in bounds:
            if total > 0 and cum >= q / 100 * total:
                out[f"server_itl_p{q}_le_ms"] = le * 1e3
                break
    return out


def phase_means(before, after):
    """Mean milliseconds of each phase between two scrapes (prefill: per pass)."""
    means = {}
    for p in PHASES:
        n = after.get(p + "_count", 0) - before.get(p + "_count", 0)
        if n > 0:
            means[p.replace("smolvk_", "").replace("_seconds", "_ms")] = \
                1e3 * (after[p + "_sum"] - before.get(p + "_sum", 0)) / n
    if "smolvk_decode_stall_seconds_total" in after:  # servers before --max-prefill-tokens lack them
        means["decode_stall_ms"] = 1e3 * (after["smolvk_decode_stall_seconds_total"] -
                                          before.get("smolvk_decode_stall_seconds_total", 0))
        means["prefill_held"] = after["smolvk_prefill_held_total"] - before.get("smolvk_prefill_held_total", 0)
    return means


def run_round(url, clients, body, headers, threads=False):
    """`body`: the request (bytes), or a function giving each client's (made before the clock starts).
    Each client runs in a process of its own, all started together; with `threads`, in threads of
    this process instead (which share Python's interpreter lock: a thread that waits for it reads
    several tokens at once, so the inter-token times it sees are bunched)."""
    bodies = [body() if callable(body) else body for _ in range(clients)]
    results = []
    if threads:
        workers = [threading.Thread(target=one_client, args=(url, b, headers, results)) for b in bodies]
        t0 = time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    else:
        mp = multiprocessing.get_context("fork")
        barrier, queue = mp.Barrier(clients + 1), mp.Queue()
        workers = [mp.Process(target=client_process, args=(url, b, headers, barrier, queue)) for b in bodies]
        for p in workers:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        results = [queue.get() for _ in workers]
        for p in workers:
            p.join()
    wall = max([r["end"] for r in results if "end" in r] or [time.perf_counter()]) - t0
    errors = [r["error"] for r in results if "error" in r]
    ok = [r for r in results if "error" not in r]
    tokens = sum(len(r["times"]) for r in ok)
    ttft = [r["times"][0] - r["start"] for r in ok if r["times"]]
    itl = [b - a for r in ok for a, b in zip(r["times"], r["times"][1:])]
    return {"clients": clients, "errors": len(errors), "first_error": errors[0] if errors else None,
            "tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall,
            "ttft_p50_ms": 1e3 * percentile(ttft, 50), "ttft_p99_ms": 1e3 * percentile(ttft, 99),
            "itl_p50_ms": 1e3 * percentile(itl, 50), "itl_p99_ms": 1e3 * percentile(itl, 99)}


def bench_reference(cli, model, batch, tokens):
    cmd = [cli, "bench", "--batch", str(batch), "--tiles", "1", "--new-tokens", str(tokens), "--reps", "3",
           "--no-cold-start", "--json"] + (["--model", model] if model else ["--shape", "256m"])
    try:
        j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        return j["decode_tokens_per_s"]["median"], j["generate_ms"]["median"]
    except (subprocess.CalledProcessError, KeyError, json.JSONDecodeError) as e:
        print(f"smolvk bench --batch {batch} failed: {e}", file=sys.stderr)
        return None, None


SERVER_LOG = None  # --server-log: the server's stderr, with the rounds marked in it
LOG_LOCK = threading.Lock()


def log_line(text):
    if SERVER_LOG:
        with LOG_LOCK:
            SERVER_LOG.write(text if text.endswith("\n") else text + "\n")
            SERVER_LOG.flush()


def start_server(binary, model, max_batch, extra):
    args = [binary, "--port", "0", "--max-batch", str(max_batch), "--max-queue", "1024"] + extra
    if model:
        args += ["--model", model]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = None
    while url is None:
        line = proc.stderr.readline()
        if not line:
            sys.exit("smolvk-serve exited before listening")
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            url = m.group(1)
    threading.Thread(target=lambda: [log_line(l) for l in proc.stderr], daemon=True).start()  # keep draining
    for _ in range(6000):
        try:
            with urllib.request.urlopen(url + "/health") as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("smolvk-serve not ready")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (else one is started)")
    ap.add_argument("--model", help="checkpoint folder (server and smolvk bench; bench uses --shape 256m without it)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder with apps/smolvk(-serve)")
    ap.add_argument("--clients", default="1,8,32,64")
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--image-size", type=int, default=256, help="side of the generated square image (one tile)")
    ap.add_argument("--client-threads", action="store_true",
                    help="run the clients as threads of one Python process (before: bunched inter-token "
                    "times, see run_round) instead of one process each")
    ap.add_argument("--distinct-images", action="store_true",
                    help="a different image in every request, so that none is found in the server's image cache "
                    "(default: one image for all, encoded once)")
    ap.add_argument("--api-key")
    ap.add_argument("--no-bench", action="store_true", help="skip the smolvk bench comparison")
    ap.add_argument("--ctx-size", type=int, default=1024, help="the server's KV positions per request")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measured rounds per concurrency; the round of median tokens/s is reported")
    ap.add_argument("--max-prefill-tokens", type=int,
                    help="the started server's --max-prefill-tokens (prompt tokens prefilled per gap between "
                    "decode steps while a batch runs; 0 = no limit, the server's default)")
    ap.add_argument("--server-args", default="", help="more smolvk-serve flags, e.g. '--join-window-ms 0'")
    ap.add_argument("--server-log", help="write the started server's stderr here, each round marked "
                    "(with SMOLVK_LOG_PIPELINES=1: which pipelines it compiles when)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    global SERVER_LOG
    if a.server_log:
        SERVER_LOG = open(a.server_log, "w")
    levels = [int(c) for c in a.clients.split(",")]
    proc = None
    url = a.url
    if a.max_prefill_tokens is not None and a.url:
        sys.exit("--max-prefill-tokens sets the server this script starts: not with --url")
    if not url:
        extra = ["--ctx-size", str(a.ctx_size)]
        if a.max_prefill_tokens is not None:
            extra += ["--max-prefill-tokens", str(a.max_prefill_tokens)]
        proc, url = start_server(os.path.join(a.build, "apps", "smolvk-serve"), a.model, max(levels),
                                 extra + a.server_args.split())
    headers = {"Content-Type": "application/json"}
    if a.api_key:
        headers["Authorization"] = "Bearer " + a.api_key
    scanlines = png_rows(a.image_size, a.image_size)
    tags = itertools.count(1)  # --distinct-images: each request's image tag

    def make_body():
        image = png(a.image_size, a.image_size, next(tags) if a.distinct_images else None, scanlines)
        return json.dumps({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
            {"type": "text", "text": "Describe this image."}]}],
            "max_tokens": a.new_tokens, "ignore_eos": True, "stream": True})
    body = make_body if a.distinct_images else make_body()
    try:
        run_round(url, 1, body, headers, a.client_threads)  # warm-up: pipelines, first batch shapes
        rows = []
        for c in levels:
            log_line(f"== warm-up round, {c} clients")
            run_round(url, c, body, headers, a.client_threads)  # warm-up at this batch size
            before = scrape(url, headers)
            measured = []
            for k in range(max(1, a.rounds)):
                log_line(f"== round {k + 1}, {c} clients")
                measured.append(run_round(url, c, body, headers, a.client_threads))
                log_line(f"== round {k + 1}, {c} clients: {measured[-1]['tokens_per_s']:.0f} tok/s")
            measured.sort(key=lambda x: x["tokens_per_s"])
            r = measured[len(measured) // 2]
            r["rounds_tokens_per_s"] = [m["tokens_per_s"] for m in measured]
            r["distinct_images"] = a.distinct_images
            r["client_threads"] = a.client_threads
            # every round's figures, slowest first: a slow round's TTFT p99 tells a late client
            r["rounds"] = [{k: m[k] for k in ("tokens_per_s", "wall_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms",
                                              "itl_p99_ms", "errors")} for m in measured]
            after = scrape(url, headers)
            r["server_phases"] = phase_means(before, after)
            r["server_phases"].update(server_itl(before, after))
            if not a.no_bench:
                r["bench_decode_tokens_per_s"], r["bench_generate_ms"] = bench_reference(
                    os.path.join(a.build, "apps", "smolvk"), a.model, c, a.new_tokens)
                if r["bench_generate_ms"]:
                    # Same work as one smolvk bench generate: C requests × N tokens in generate_ms.
                    r["bench_tokens_per_s"] = c * a.new_tokens * 1000.0 / r["bench_generate_ms"]
                    r["server_vs_bench"] = r["tokens_per_s"] / r["bench_tokens_per_s"]
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print(f"{'clients':>7} {'tok/s':>9} {'bench tok/s':>11} {'ratio':>6} {'TTFT p50':>9} {'TTFT p99':>9} "
          f"{'ITL p50':>8} {'ITL p99':>8} {'errors':>6}")
    for r in rows:
        bench = r.get("bench_tokens_per_s")
        print(f"{r['clients']:>7} {r['tokens_per_s']:>9.1f} {bench or float('nan'):>11.1f} "
              f"{r.get('server_vs_bench', float('nan')):>6.2f} {r['ttft_p50_ms']:>7.1f}ms {r['ttft_p99_ms']:>7.1f}ms "
              f"{r['itl_p50_ms']:>6.2f}ms {r['itl_p99_ms']:>6.2f}ms {r['errors']:>6}")
    print("server side, means over the measured rounds (the server's /metrics): "
          "prepare = HTTP thread before queueing, queue = queued until admitted, prefill = one prefill pass; "
          "totals: decode_stall = running requests waiting for prefills, prefill_held = gaps whose "
          "--max-prefill-tokens left requests for the next; server_itl_p50/p99_le = the server's own inter-token "
          "p50 / p99 (ms, upper bound of its histogram bucket), without the network and the clients")
    for r in rows:
        print(f"{r['clients']:>7} " + "  ".join(f"{k} {v:.2f}" for k, v in r.get("server_phases", {}).items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
