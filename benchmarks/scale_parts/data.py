"""The scale benchmark's data: a random leaky-ReLU teacher's targets, in memory or written to
disk block by block, and this process's memory."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

import numpy as np

D, SLOPE, TEACHER = 32, 0.1, 32
TARGET_BYTES = 4 * 2**30  # the target: peak memory under 4 GiB for 1e7 x 32 x 32


def make_data(n: int, seed: int = 0, teacher: int = TEACHER) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs and the outputs of a leaky-ReLU teacher of ``teacher`` units plus 10%
    noise, standardised."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    W = rng.standard_normal((teacher, D)) / np.sqrt(D)
    a = rng.standard_normal(teacher)
    # in one piece while the teacher's activations are small (the data the other modes
    # measured); a wide teacher on many rows, in blocks of 2**24 activations
    block = n if n * teacher <= 2**27 else max(1, 2**24 // teacher)
    parts = []
    for start in range(0, n, block):
        Z = X[start:start + block] @ W.T
        parts.append(np.where(Z > 0, Z, SLOPE * Z) @ a)
    y = np.concatenate(parts)
    y = y + 0.1 * y.std() * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def write_data(directory: Path, n: int, block: int = 1_000_000) -> tuple[Path, Path]:
    """``make_data``'s model on disk: float32 ``X.npy`` (n, D) and ``y.npy`` (n,) in
    ``directory``, written ``block`` rows at a time (never the whole set in memory); kept if
    files of these shapes exist. The teacher is drawn once (seed 0); block ``i`` draws its
    inputs from seed ``(1, i)`` and its noise from ``(2, i)``. ``y`` is standardised in place
    with statistics summed over the blocks: raw teacher outputs first, then the noise (10% of
    their standard deviation), then the rescaling."""
    from numpy.lib.format import open_memmap

    directory.mkdir(parents=True, exist_ok=True)
    x_path, y_path = directory / "X.npy", directory / "y.npy"
    if _is_array(x_path, (n, D)) and _is_array(y_path, (n,)):
        return x_path, y_path
    teacher = np.random.default_rng(0)
    W = teacher.standard_normal((TEACHER, D)) / np.sqrt(D)
    a = teacher.standard_normal(TEACHER)
    x_part, y_part = directory / "X.partial.npy", directory / "y.partial.npy"
    X = open_memmap(x_part, mode="w+", dtype=np.float32, shape=(n, D))
    y = open_memmap(y_part, mode="w+", dtype=np.float32, shape=(n,))
    blocks = [(i, start, min(start + block, n)) for i, start in enumerate(range(0, n, block))]

    def moments(values: np.ndarray) -> np.ndarray:
        return np.array([values.size, values.sum(), values @ values])

    sums = np.zeros(3)
    for i, start, stop in blocks:
        Xb = np.random.default_rng((1, i)).standard_normal((stop - start, D)).astype(np.float32)
        X[start:stop] = Xb
        Z = Xb.astype(np.float64) @ W.T
        yb = np.where(Z > 0, Z, SLOPE * Z) @ a
        y[start:stop] = yb
        sums += moments(yb)
    noise = 0.1 * np.sqrt(sums[2] / sums[0] - (sums[1] / sums[0]) ** 2)
    sums[:] = 0
    for i, start, stop in blocks:
        yb = y[start:stop] + noise * np.random.default_rng((2, i)).standard_normal(stop - start)
        y[start:stop] = yb
        sums += moments(yb)
    mean = sums[1] / sums[0]
    std = np.sqrt(sums[2] / sums[0] - mean**2)
    for _, start, stop in blocks:
        y[start:stop] = (y[start:stop] - mean) / std
    X.flush()
    y.flush()
    del X, y
    os.replace(x_part, x_path)
    os.replace(y_part, y_path)
    return x_path, y_path


def _is_array(path: Path, shape: tuple[int, ...]) -> bool:
    """Whether ``path`` is a float32 ``.npy`` of this shape."""
    try:
        a = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return a.shape == shape and a.dtype == np.float32


class MemorySampler(threading.Thread):
    """Samples this process's resident memory every ``interval`` seconds from
    ``/proc/self/status``: the peaks of its anonymous pages (its own allocations) and of its
    file-backed pages (memory-mapped files, shared libraries). Sampling can miss a short peak,
    and a Numba kernel holding the GIL delays the samples; ``ru_maxrss`` is the exact total."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.anon, self.file = interval, 0, 0
        self.done = threading.Event()

    def sample(self) -> None:
        try:
            with open("/proc/self/status") as f:
                fields = dict(line.split(":", 1) for line in f if line.startswith("Rss"))
        except OSError:
            return
        kib = {key: int(value.split()[0]) * 1024 for key, value in fields.items()}
        self.anon = max(self.anon, kib.get("RssAnon", 0))
        self.file = max(self.file, kib.get("RssFile", 0) + kib.get("RssShmem", 0))

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def stop(self) -> dict:
        self.done.set()
        self.join()
        self.sample()
        return {"peak_anon_gb": self.anon / 1e9 or None, "peak_file_gb": self.file / 1e9 or None}


def peak_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
