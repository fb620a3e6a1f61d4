"""Start space/app.py as a real server on 127.0.0.1 for the API and browser tests (not a test module itself)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "space" / "app.py"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_space(dataset: Path, models: Path, workdir: Path, *, timeout: float = 180.0) -> Iterator[str]:
    """`python space/app.py` serving `dataset` with the tiny models in `models`; yields its URL, stops it after."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "POKEMBED_DATASET": str(dataset),
        "POKEMBED_TEXT_MODEL": str(models / "text"),
        "POKEMBED_IMAGE_MODEL": str(models / "image"),
        "POKEMBED_DEVICE": "cpu",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(workdir / "gradio"),
        "TMPDIR": str(workdir),
        "HF_HOME": str(workdir / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    url = f"http://127.0.0.1:{port}/"
    log_path = workdir / "space.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=workdir)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"space/app.py exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
                try:
                    with urllib.request.urlopen(url + "gradio_api/info", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"space/app.py did not answer in {timeout:.0f} s:\n"
                                           f"{log_path.read_text()[-4000:]}") from None
                    time.sleep(0.5)
            yield url
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Ask a server to stop, then make it."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_log(workdir: Path) -> str:
    """What the server printed so far."""
    path = workdir / "space.log"
    return path.read_text(errors="replace") if path.exists() else ""
