#!/usr/bin/env python
"""The Space's latency, start-up time and memory on this machine.

Loads space/app.py the way a Space does (module import: gradio, the dataset through datasets.load_dataset, the index,
the artwork files, the page) and times, over N repeats each, the functions behind the endpoints:
  similarity      similar_view(name, mode, k): ranking, best-per-generation table and gallery, per mode
  text-to-image   ask_view(question, k): the question embedded with the search_query prompt by the text model on
                  CPU, then ranked against the image embeddings, and the gallery
and, with --http, the same calls end to end through the running server with gradio_client, and through Gradio's
REST API with a plain HTTP client (gradio_client adds about 65 ms of its own per call on this machine).

The text model defaults to a full-size nomic-embed-text-v1.5 (native NomicBert, 137M parameters) with random weights
and the real bert-base-uncased tokenizer from ../shared, written to a temporary folder: the same arithmetic as the real
model, no download. Targets: similarity p95 < 50 ms, text-to-image p95 < 300 ms.

  python benchmarks/space_latency.py build/smoke
  python benchmarks/space_latency.py build/smoke --repeats 200 --http
  python benchmarks/space_latency.py build/smoke --text-model /path/to/model    # any text model folder or name
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports: start-up counts them, as a Space's does

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "space" / "app.py"
QUESTIONS = (
    "what looks like an ice cream cone?",
    "a pink balloon with big eyes",
    "a fish that looks useless",
    "a dragon made of fire",
    "a grumpy purple ghost",
    "a yellow mouse with red cheeks",
    "a turtle with cannons on its shell",
    "a blue bird made of ice",
    "something that looks like a rock with arms",
    "a cute fluffy sheep with electric wool",
)
TARGETS_MS = {"similarity": 50.0, "text-to-image": 300.0}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="space_latency.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a dataset folder written by build_dataset.py (or a Hub id)")
    parser.add_argument("--text-model", default=None,
                        help="text model for questions (default: a full-size random-weight NomicBert in a temp folder)")
    parser.add_argument("--repeats", type=int, default=100, help="timed calls per measurement (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    parser.add_argument("--k", type=int, default=12, help="gallery size (default 12, the page's)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: the app's, POKEMBED_TORCH_THREADS or 1; 0 = torch's choice)")
    parser.add_argument("--http", action="store_true", help="also time the endpoints through the server")
    return parser.parse_args(argv)


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def percentiles(call: Callable[[int], object], repeats: int, warmup: int) -> tuple[float, float, float]:
    """(p50, p95, max) milliseconds of call(i) over `repeats` timed calls after `warmup` untimed ones."""
    for i in range(warmup):
        call(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), max(times)


def report(label: str, stats: tuple[float, float, float], target: float | None = None) -> None:
    p50, p95, worst = stats
    verdict = "" if target is None else (f"  target p95 < {target:.0f} ms: " + ("met" if p95 < target else "MISSED"))
    print(f"  {label:<34} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   max {worst:8.2f} ms{verdict}")


def load_app(dataset: str, text_model: str) -> tuple[object, float]:
    """Import space/app.py as a Space would start it; returns the module and the seconds since this script started."""
    os.environ["POKEMBED_DATASET"] = dataset
    os.environ["POKEMBED_TEXT_MODEL"] = text_model
    os.environ.setdefault("POKEMBED_DEVICE", "cpu")
    os.environ.setdefault("POKEMBED_LOG_LEVEL", "WARNING")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    spec = importlib.util.spec_from_file_location("pokembed_space_app", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module, time.perf_counter() - STARTED


class FixedModels:
    """Stands in for the app's lazily loaded models with one already loaded query encoder."""

    def __init__(self, encoder: object, dim: int) -> None:
        self.encoder = encoder
        self.dim = dim

    def query_encoder(self) -> "FixedModels":
        return self

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.encoder.embed_queries(texts)
        if vectors.shape[1] != self.dim:  # timing only: fit the model's width to the dataset's image space
            vectors = np.resize(vectors, (vectors.shape[0], self.dim))
        return vectors


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    tmp = tempfile.TemporaryDirectory(prefix="pokembed-bench-")
    text_model = args.text_model
    if text_model is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from text_throughput import write_full_size_text_model

        made = time.perf_counter()
        text_model = str(write_full_size_text_model(Path(tmp.name) / "nomic-text-random"))
        made = time.perf_counter() - made
    else:
        made = 0.0

    app, startup = load_app(args.dataset, text_model)
    startup -= made
    threads = args.threads if args.threads is not None else app.space.config.torch_threads
    if threads > 0:
        torch.set_num_threads(threads)
    rss_start, _ = rss_mb()
    space = app.space
    index = space.index
    print(f"dataset: {args.dataset} — {len(index)} Pokémon, text dim {index.text.shape[1]}, "
          f"image dim {index.image.shape[1]} ({int(index.has_image.sum())} with artwork)")
    print(f"machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"load average {os.getloadavg()[0]:.1f} (1-minute, before the run)")
    print(f"start-up (python imports + dataset load + index + artwork files + page): {startup:.2f} s, "
          f"RSS {rss_start:.0f} MB")

    from pokembed.encoders import load_text_encoder

    loaded = time.perf_counter()
    encoder = load_text_encoder(text_model, device="cpu", progress=False)
    loaded = time.perf_counter() - loaded
    rss_model, _ = rss_mb()
    params = sum(p.numel() for p in encoder.model.parameters()) / 1e6 if hasattr(encoder, "model") else float("nan")
    print(f"text model: {text_model} ({params:.0f}M parameters), loaded in {loaded:.2f} s, RSS {rss_model:.0f} MB")
    dim = index.image.shape[1]
    width = int(encoder.embed_queries(["probe"]).shape[1])
    if width != dim:
        print(f"  note: the model gives {width}-d vectors but the dataset's image space is {dim}-d; the query vector "
              f"is resized for timing only (rankings are meaningless)")

    print(f"\nhandler latency over {args.repeats} calls each (k={args.k}):")
    for mode in ("text", "image", "umap", "combined"):
        pool = [n for n, ok in zip(index.names, index.has_image) if ok or mode != "image"]
        cycle = itertools.cycle(pool)
        stats = percentiles(lambda i: app.similar_view(space, next(cycle), mode, args.k), args.repeats, args.warmup)
        report(f"similarity ({mode})", stats, TARGETS_MS["similarity"])
    asked = replace(space, models=FixedModels(encoder, dim))
    stats = percentiles(lambda i: app.ask_view(asked, QUESTIONS[i % len(QUESTIONS)], args.k), args.repeats,
                        args.warmup)
    report("text-to-image (question → gallery)", stats, TARGETS_MS["text-to-image"])
    stats = percentiles(lambda i: encoder.embed_queries([QUESTIONS[i % len(QUESTIONS)]]), args.repeats, args.warmup)
    report("  of which: query embedding", stats)
    vector = np.resize(encoder.embed_queries([QUESTIONS[0]])[0], dim)
    stats = percentiles(lambda i: index.search_images(vector, k=args.k), args.repeats, args.warmup)
    report("  of which: image ranking", stats)

    if args.http:
        http(app, space, args, width == dim)
    current, peak = rss_mb()
    print(f"\nmemory: RSS {current:.0f} MB now, peak {peak:.0f} MB; load average {os.getloadavg()[0]:.1f}")
    tmp.cleanup()
    return 0


def http(app: object, space: object, args: argparse.Namespace, can_ask: bool) -> None:
    """The same calls end to end: the module's demo served on 127.0.0.1, called with gradio_client."""
    import socket

    from gradio_client import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    app.demo.queue(default_concurrency_limit=4).launch(server_name="127.0.0.1", server_port=port,
                                                       prevent_thread_lock=True, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
    print(f"\nend to end through the server (gradio_client, {args.repeats} calls each; server up and client "
          f"connected in {time.perf_counter() - started:.2f} s):")
    names = itertools.cycle(space.index.names)
    stats = percentiles(lambda i: client.predict(next(names), "text", args.k, api_name="/similar"), args.repeats,
                        args.warmup)
    report("similarity (text) via /similar", stats, TARGETS_MS["similarity"])
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as rest:
        stats = percentiles(lambda i: rest_call(rest, "similar", [next(names), "text", args.k]), args.repeats,
                            args.warmup)
    report("similarity (text), REST /gradio_api/call/similar", stats, TARGETS_MS["similarity"])
    if can_ask:
        stats = percentiles(lambda i: client.predict(QUESTIONS[i % len(QUESTIONS)], args.k, api_name="/ask"),
                            args.repeats, args.warmup)
        report("text-to-image via /ask", stats, TARGETS_MS["text-to-image"])
    else:
        print("  text-to-image via /ask: skipped (the text model's width does not match the dataset's image space)")
    app.demo.close()
    report("Gradio's own floor: an echo endpoint", echo_floor(args), None)


def rest_call(client: "httpx.Client", api: str, data: list) -> str:
    """One call through Gradio's REST API (what curl or any HTTP client uses): POST the inputs, read the result
    stream to its end. Raises when the stream reports an error instead of a result."""
    event_id = client.post(f"/gradio_api/call/{api}", json={"data": data}).raise_for_status().json()["event_id"]
    body = client.get(f"/gradio_api/call/{api}/{event_id}").raise_for_status().text
    if "event: complete" not in body:
        raise RuntimeError(f"/{api} did not complete: {body[:200]}")
    return body


def echo_floor(args: argparse.Namespace) -> tuple[float, float, float]:
    """Round trip of a Blocks endpoint that does nothing, served and called the same way: the framework's share."""
    import socket

    import gradio as gr
    from gradio_client import Client

    with gr.Blocks() as echo:
        box = gr.Textbox()
        box.submit(lambda text: text, box, box, api_name="echo")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    echo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
    try:
        return percentiles(lambda i: client.predict("hi", api_name="/echo"), args.repeats, args.warmup)
    finally:
        echo.close()


if __name__ == "__main__":
    sys.exit(main())
