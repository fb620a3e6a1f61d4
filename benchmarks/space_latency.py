#!/usr/bin/env python
"""The Space as a visitor meets it: start-up, the first question, each endpoint's latency, page weight, memory.

Starts `python space/app.py` as a real server (what a Space runs) on a dataset and measures:
  start to usable page   from launching the process to the Similar tab showing the chosen Pokémon's artwork in
                         headless Chromium (or, without Chromium, to the page's HTML answering)
  first question         /ask's latency once the page has been up --settle seconds (the warm-up loads the question
                         model in the background meanwhile); target < 1 s after 30 s
  endpoints              p50/p95 of /similar (each mode), /ask, /ask_records, /arithmetic (text and image),
                         /search_by_picture, /map (UMAP and PCA) and /oddballs through gradio_client, --repeats
                         calls each
  first page             bytes transferred (compressed, as the browser received them) and requests for the first
                         page with its pictures, in Chromium; target < 600 kB
  memory                 the server's resident memory (now and peak) with both query models loaded
  Lighthouse (--lighthouse)  performance, accessibility, best practices and SEO scores of the page, mobile (the
                         default: a throttled mid-range phone) and desktop (--preset=desktop), with LCP and total
                         blocking time; targets mobile performance >= 75, desktop >= 95, accessibility >= 98 and
                         SEO >= 95 (npm lighthouse@12.2.3 on PATH, Chromium from CHROME_PATH or /usr/bin/chromium)

By default the server runs full-size models with random weights made from their configs (a NomicBert with
nomic-embed-text-v1.5's settings and the real bert-base-uncased tokenizer from ../shared, nomic-embed-vision-v1.5's
architecture), the same arithmetic and memory as the real ones without a download; the dataset is copied with its
vectors replaced by seeded random 768-d unit vectors so the full-size query vectors rank against it (rankings
meaningless, cost the same).
--tiny serves the dataset as built, with the tiny models given by --models.

  python benchmarks/space_latency.py build/smoke
  python benchmarks/space_latency.py build/smoke --repeats 50 --settle 30
  python benchmarks/space_latency.py build/smoke --tiny --models /tmp/tiny
  python benchmarks/space_latency.py build/smoke --tiny --models /tmp/tiny --lighthouse --lighthouse-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
QUESTIONS = (
    "what looks like an ice cream cone?", "a pink balloon with big eyes", "a fish that looks useless",
    "a dragon made of fire", "a grumpy purple ghost", "a yellow mouse with red cheeks",
    "a turtle with cannons on its shell", "a blue bird made of ice", "something that looks like a rock with arms",
    "a cute fluffy sheep with electric wool",
)
RECORD_QUESTIONS = (
    "a ghost type that evolves by trading", "learns surf and fly", "a legendary bird of ice", "the heaviest pokemon",
    "evolves with a water stone", "a bug that becomes a butterfly",
)
TARGETS = {"first question (s)": 1.0, "first page (kB)": 600.0}
FULL_DIM = 768


def expression(names: Sequence[str], i: int) -> str:
    """An arithmetic expression of three different Pokémon and a generation centroid, e.g. a + (b - c) - gen:1."""
    a, b, c = (names[(i + step) % len(names)] for step in (0, 7, 13))
    return f"{a} + ({b} - {c}) - generation:i"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="space_latency.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path, help="a dataset folder written by build_dataset.py")
    parser.add_argument("--tiny", action="store_true", help="serve the dataset as built with the models in --models")
    parser.add_argument("--models", type=Path, help="with --tiny: a folder with text/ and image/ (python -m pokembed.tiny_models DIR)")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per endpoint (default 30)")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds the page is up before the first question (default 30)")
    parser.add_argument("--k", type=int, default=12, help="results per call (default 12, the page's)")
    parser.add_argument("--lighthouse", action="store_true", help="also run Lighthouse, mobile and desktop")
    parser.add_argument("--lighthouse-runs", type=int, default=3,
                        help="Lighthouse runs per preset; the median run is reported, with the range (default 3: "
                             "single runs on a shared machine vary by 20 points)")
    parser.add_argument("--lighthouse-only", action="store_true",
                        help="with --lighthouse: stop after the page measures (no endpoint latencies)")
    return parser.parse_args(argv)


def widened_dataset(source: Path, out: Path, dim: int = FULL_DIM, seed: int = 0) -> Path:
    """A copy of a built dataset whose text and image vectors are seeded random `dim`-d unit vectors (rows without
    an image vector keep none), with the features in the parquet metadata updated to match. The card is left out:
    its YAML declares the old widths, and `datasets` would read those before the parquet's own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(source, out, ignore=shutil.ignore_patterns("data", "README.md"))
    (out / "data").mkdir()
    rng = np.random.default_rng(seed)
    for parquet in sorted((source / "data").glob("*.parquet")):
        table = pq.read_table(parquet)
        for column in ("text_embedding", "image_embedding"):
            present = ~np.asarray(table.column(column).is_null().to_numpy(zero_copy_only=False))
            vectors = rng.standard_normal((table.num_rows, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            values = pa.array(vectors.reshape(-1), pa.float32())
            array = pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(~present))
            table = table.set_column(table.schema.get_field_index(column), column, array)
        metadata = dict(table.schema.metadata or {})
        features = json.loads(metadata.get(b"huggingface", b"{}"))
        for column in ("text_embedding", "image_embedding"):
            feature = features.get("info", {}).get("features", {}).get(column)
            if isinstance(feature, dict) and "length" in feature:
                feature["length"] = dim
        metadata[b"huggingface"] = json.dumps(features).encode()
        pq.write_table(table.replace_schema_metadata(metadata), out / "data" / parquet.name)
    return out


def full_size_models(folder: Path) -> tuple[Path, Path]:
    """(text, image): random-weight full-size models written from their configs."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from common import write_full_size_models

    return write_full_size_models(folder)


def memory_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def percentiles(call: Callable[[int], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """(p50, p95) milliseconds of call(i) over `repeats` timed calls after `warmup` untimed ones."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def first_page(url: str) -> tuple[float, int, int, float]:
    """Open the page in Chromium: (seconds until the chosen artwork shows, bytes transferred, requests, seconds
    until the network is idle). Bytes are the encoded (compressed) sizes the browser received."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        received: dict[str, int] = {}
        cdp.on("Network.loadingFinished", lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"]))
        start = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_function("() => { const i = document.querySelector('#similar-view .pk-chosen img');"
                               " return i && i.complete && i.naturalWidth > 0; }", timeout=120_000)
        usable = time.perf_counter() - start
        # Gradio keeps a connection open, so "network idle" never comes: wait until the visible pictures are in and
        # nothing new has finished loading for a second and a half
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            before = len(received)
            page.wait_for_timeout(1500)
            pictures_in = page.evaluate("() => [...document.querySelectorAll('#similar-view img[loading=eager], "
                                        "#similar-view .pk-chosen img')].every(i => i.complete)")
            if pictures_in and len(received) == before:
                break
        idle = time.perf_counter() - start - 1.5
        browser.close()
    return usable, sum(received.values()), len(received), idle


def wait_for_page(url: str, started: float, server: "subprocess.Popen", log: Path, timeout: float = 600.0) -> float:
    """Seconds from `started` until the page's HTML answers; the server's log if it exits first."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"space/app.py exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return time.perf_counter() - started
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Space did not answer at {url} in {timeout:.0f} s") from None
            time.sleep(0.2)


LIGHTHOUSE_TARGETS = {"mobile": {"performance": 75, "accessibility": 98, "seo": 95},
                      "desktop": {"performance": 95, "accessibility": 98, "seo": 95}}


def lighthouse(url: str, out: Path, preset: str) -> dict:
    """One Lighthouse run ("mobile": its default throttled phone; "desktop": --preset=desktop): the four category
    scores (0-100), LCP (s) and total blocking time (ms)."""
    command = ["lighthouse", url, "--output=json", f"--output-path={out}", "--quiet",
               "--only-categories=performance,accessibility,best-practices,seo",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", str(CHROMIUM))}
    subprocess.run(command, check=True, env=env, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    report = json.loads(out.read_text(encoding="utf-8"))
    scores = {key: round(100 * (category["score"] or 0)) for key, category in report["categories"].items()}
    audits = report["audits"]
    return {**scores, "lcp_s": audits["largest-contentful-paint"]["numericValue"] / 1000,
            "tbt_ms": audits["total-blocking-time"]["numericValue"],
            "failed": [key for key, audit in audits.items() if audit.get("score") == 0
                       and key in ("color-contrast", "meta-description", "label", "button-name", "link-name")]}


def print_lighthouse(url: str, tmp: Path, runs: int = 3) -> None:
    """Lighthouse's scores for the page, mobile then desktop, against the targets, with the load average: the run
    with the median performance score of `runs`, and the range of the performance scores."""
    if not shutil.which("lighthouse"):
        print("  Lighthouse: skipped (npm install -g lighthouse@12.2.3)")
        return
    print(f"  Lighthouse 12 ({time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()[0]:.1f}, median of "
          f"{runs} runs):")
    for preset, targets in LIGHTHOUSE_TARGETS.items():
        every = sorted((lighthouse(url, tmp / f"lighthouse-{preset}-{i}.json", preset) for i in range(max(1, runs))),
                       key=lambda got: got["performance"])
        got = every[len(every) // 2]
        verdict = ", ".join(f"{k} {'met' if got[k] >= v else 'MISSED'}" for k, v in targets.items())
        print(f"    {preset:<8} performance {got['performance']:3d} ({every[0]['performance']}–"
              f"{every[-1]['performance']})  accessibility {got['accessibility']:3d}  "
              f"best practices {got['best-practices']:3d}  SEO {got['seo']:3d}   LCP {got['lcp_s']:.1f} s, "
              f"TBT {got['tbt_ms']:.0f} ms   ({verdict}){'; failed: ' + ', '.join(got['failed']) if got['failed'] else ''}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from gradio_client import Client, handle_file
    from PIL import Image
    from space_server import free_port, stop

    tmp = Path(tempfile.mkdtemp(prefix="pokembed-space-bench-"))
    try:
        if args.tiny:
            if not args.models:
                raise SystemExit("--tiny needs --models DIR (python -m pokembed.tiny_models DIR)")
            dataset, text, image, label = args.dataset, args.models / "text", args.models / "image", "tiny models"
        else:
            made = time.perf_counter()
            text, image = full_size_models(tmp / "models")
            dataset = widened_dataset(args.dataset, tmp / "dataset")
            label = "full-size models, random weights"
            print(f"prepared full-size models and a {FULL_DIM}-d copy of the dataset in "
                  f"{time.perf_counter() - made:.1f} s (not counted)")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "POKEMBED_DATASET": str(dataset), "POKEMBED_TEXT_MODEL": str(text),
               "POKEMBED_IMAGE_MODEL": str(image), "POKEMBED_DEVICE": "cpu", "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
               "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp / "hf"), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
               "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPO)}
        log = open(tmp / "space.log", "wb")
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, str(REPO / "space" / "app.py")], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=tmp)
        try:
            html_up = wait_for_page(url, started, server, tmp / "space.log")
            print(f"\nSpace: {args.dataset} ({label}); {os.cpu_count()} CPU cores, load average "
                  f"{os.getloadavg()[0]:.1f}")
            print(f"  server start → page HTML answers        {html_up:7.2f} s")
            if CHROMIUM.exists():
                usable, sent, requests, idle = first_page(url)
                print(f"  server start → usable page (artwork)    {html_up + usable:7.2f} s   "
                      f"(the page itself: {usable:.2f} s in Chromium)")
                kb = sent / 1000
                verdict = "met" if kb < TARGETS["first page (kB)"] else "MISSED"
                print(f"  first page: {kb:7.1f} kB transferred in {requests} requests (the last one after "
                      f"{idle:.2f} s)   target < 600 kB: {verdict}")
            else:
                print(f"  usable page and first-page bytes: skipped ({CHROMIUM} not found)")
            if args.lighthouse:
                print_lighthouse(url, tmp, args.lighthouse_runs)
                if args.lighthouse_only:
                    return 0
            page_up = time.perf_counter()
            client = Client(url, verbose=False, download_files=False)
            info = client.view_api(print_info=False, return_format="dict")
            import urllib.request

            with urllib.request.urlopen(url + "gradio_api/info", timeout=30) as response:
                info_bytes = len(response.read())
            print(f"  /gradio_api/info: {info_bytes / 1000:.1f} kB, endpoints {', '.join(sorted(info['named_endpoints']))}")
            time.sleep(max(0.0, args.settle - (time.perf_counter() - page_up)))
            start = time.perf_counter()
            client.predict(QUESTIONS[0], args.k, api_name="/ask")
            first = time.perf_counter() - start
            verdict = "met" if first < TARGETS["first question (s)"] else "MISSED"
            print(f"  first question, {args.settle:.0f} s after the page was up: {first:.2f} s   "
                  f"target < 1 s: {verdict}")

            names = [p["name"] for p in client.predict(api_name="/map")["points"]]
            with_art = [m["name"] for m in client.predict(QUESTIONS[1], 50, api_name="/ask")["matches"]]
            picture = tmp / "picture.png"
            Image.new("RGB", (320, 240), (250, 180, 200)).save(picture)
            print(f"\n  endpoint latency through gradio_client, {args.repeats} calls each (k={args.k}):")
            calls = {
                "/similar text": lambda i: client.predict(names[i % len(names)], "text", args.k, api_name="/similar"),
                "/similar image": lambda i: client.predict(with_art[i % len(with_art)], "image", args.k,
                                                           api_name="/similar"),
                "/similar umap": lambda i: client.predict(names[i % len(names)], "umap", args.k, api_name="/similar"),
                "/similar combined": lambda i: client.predict(names[i % len(names)], "combined", args.k,
                                                              api_name="/similar"),
                "/ask": lambda i: client.predict(QUESTIONS[i % len(QUESTIONS)], args.k, api_name="/ask"),
                "/search_by_picture": lambda i: client.predict(handle_file(str(picture)), args.k,
                                                               api_name="/search_by_picture"),
                "/map (a name)": lambda i: client.predict(names[i % len(names)], api_name="/map"),
                "/map pca (a name)": lambda i: client.predict(names[i % len(names)], 10, "pca", api_name="/map"),
                "/ask_records": lambda i: client.predict(RECORD_QUESTIONS[i % len(RECORD_QUESTIONS)], args.k,
                                                         api_name="/ask_records"),
                "/arithmetic text": lambda i: client.predict(expression(names, i), "text", args.k,
                                                             api_name="/arithmetic"),
                "/arithmetic image": lambda i: client.predict(expression(with_art, i), "image", args.k,
                                                              api_name="/arithmetic"),
                "/oddballs": lambda i: client.predict(("text", "image", "combined")[i % 3], api_name="/oddballs"),
            }
            for name, call in calls.items():
                p50, p95 = percentiles(call, args.repeats)
                print(f"    {name:<22} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
            current, peak = memory_mb(server.pid)
            print(f"\n  server memory with both query models loaded: RSS {current:.0f} MB now, peak {peak:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f}")
        finally:
            stop(server)
            log.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
