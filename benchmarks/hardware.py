"""The device a benchmark runs on: resolving --device, naming it, its bf16 dense peak, and synchronised clocks.

Shared by the benchmark scripts in this folder (they put this folder on sys.path when run as scripts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

# bf16 dense (no sparsity) tensor-core peaks in TFLOP/s, from the vendors' datasheets. Matched in this order against
# torch.cuda.get_device_name(): the first (substring, ...) whose substrings all occur wins.
BF16_PEAK_TFLOPS: list[tuple[tuple[str, ...], float, str]] = [
    (("H100", "PCIE"), 756.0, "H100 PCIe"),
    (("H100", "NVL"), 835.0, "H100 NVL"),
    (("H100",), 989.4, "H100 SXM"),
    (("H200", "NVL"), 835.0, "H200 NVL"),
    (("H200",), 989.4, "H200"),
    (("A100",), 312.0, "A100"),
    (("L40S",), 362.0, "L40S"),
    (("L40",), 181.0, "L40"),
    (("L4",), 121.0, "L4"),
    (("T4",), 65.0, "T4 (fp16; no bf16 tensor cores)"),
]


@dataclass(frozen=True)
class Device:
    """A resolved torch device with what the figures need to know about it."""

    kind: str  # "cpu" | "cuda"
    name: str  # e.g. "NVIDIA H100 80GB HBM3" or "cpu (2 threads)"
    peak_tflops: float | None  # bf16 dense peak, None when unknown (CPU unless --peak-tflops)
    peak_source: str  # which table row or "--peak-tflops"

    def synchronize(self) -> None:
        """Wait for queued device work, so that a host clock read after it is honest."""
        if self.kind == "cuda":
            import torch

            torch.cuda.synchronize()

    def fraction(self, tflops: float) -> str:
        """Achieved TFLOP/s as a percentage of the peak, or 'n/a'."""
        if not self.peak_tflops:
            return "n/a"
        return f"{100.0 * tflops / self.peak_tflops:.1f}%"


def bf16_peak(name: str) -> tuple[float | None, str]:
    """The bf16 dense peak of a CUDA device by its name, or (None, 'unknown') when it is not in the table."""
    upper = name.upper()
    for needles, peak, label in BF16_PEAK_TFLOPS:
        if all(needle in upper for needle in needles):
            return peak, label
    return None, "unknown device: pass --peak-tflops"


def resolve_device(requested: str, *, peak_tflops: float | None = None) -> Device:
    """Turn --device auto|cpu|cuda into a Device; 'cuda' without a GPU exits with one clear line."""
    import torch

    if requested not in ("auto", "cpu", "cuda"):
        raise SystemExit(f"Error: --device must be auto, cpu or cuda, got {requested!r}")
    kind = "cuda" if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()) else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit("Error: --device cuda but torch sees no CUDA device; use --device cpu or auto")
    if kind == "cuda":
        name = torch.cuda.get_device_name(0)
        peak, source = bf16_peak(name)
    else:
        name = f"cpu ({torch.get_num_threads()} torch threads)"
        peak, source = None, "n/a on CPU: pass --peak-tflops"
    if peak_tflops is not None:
        peak, source = peak_tflops, "--peak-tflops"
    return Device(kind=kind, name=name, peak_tflops=peak, peak_source=source)


def clock(device: Device) -> float:
    """perf_counter after the device's queue has drained."""
    device.synchronize()
    return time.perf_counter()


def describe_environment(device: Device) -> str:
    """One line naming the software stack and the device, for the top of every report."""
    import platform

    import torch
    import transformers

    peak = f"{device.peak_tflops:g} TFLOP/s bf16 dense ({device.peak_source})" if device.peak_tflops else device.peak_source
    return (
        f"device: {device.name}; peak: {peak}; torch {torch.__version__}, transformers {transformers.__version__}, "
        f"python {platform.python_version()}, date {time.strftime('%Y-%m-%d')}"
    )
