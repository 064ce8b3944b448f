"""Process-level speed settings of the trainer, each measured with ``benchmarks/throughput.py``
(figures in benchmarks/README.md).

- ``tune_cpu_allocator``: glibc's malloc returns every freed block above 128 KiB to the OS (mmap /
  trim), so each training step re-faults its activations page by page (~550 page faults per mmoe step
  at batch 1024, ~1 ms of kernel time per step on the 2-core benchmark machine). Serving blocks up to
  32 MiB from the heap and keeping freed heap memory (up to 1 GiB) removes those faults; the resident
  set then stays at the training working set's high-water mark. Off with ``MTLBENCH_MALLOC_TUNING=0``.
- ``flush_denormals``: sets flush-to-zero / denormals-are-zero (FTZ/DAZ) on the CPU threads that train.
  Adam's first moment of an embedding row that is rarely sampled decays geometrically (0.9 per step) and
  falls below float32's smallest normal value (1.2e-38) after ~850 steps without a gradient; from there
  denormals spread into the embeddings and the first expert layer, and x86 GEMMs on denormal operands run
  up to ~100x slower per element. On the funnel suite (mmoe, batch 256) the step time climbed 17 -> 125 ms
  within 5,000 steps. Only values below 1.2e-38 change (they become 0). The flags are per thread: the
  calling thread is set, then every thread of torch's OpenMP pool (a parallel region runs the same call
  on each), and threads created later inherit them. Off with ``MTLBENCH_FLUSH_DENORMAL=0``.
  ``exact_floats`` turns them off again while a suite is generated: the video generator passes through
  denormals, and data (and its checksum, which studies and records are keyed by) must not depend on
  whether the process trained something before loading it.
- ``maybe_compile``: ``torch.compile`` of the model's forward, opt-in with ``MTLBENCH_COMPILE=1``. On
  the 2-thread CPU it made the mmoe step slower (measured), so it is not the default; any compile
  error falls back to the eager model for the rest of the run.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc malloc.h)
_tuned: bool | None = None


def tune_cpu_allocator() -> bool:
    """Apply the glibc malloc settings above once per process; True when they are in effect."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if sys.platform != "linux" or os.environ.get("MTLBENCH_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # glibc only (musl has no mallopt tunables)
        _tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        _tuned = False
    return _tuned


_flushing: bool | None = None


def _denormals_survive() -> bool:
    """True when a parallel elementwise op (every pool thread gets a chunk) keeps a denormal input."""
    # bit pattern 0x00400000 is the float32 denormal 5.9e-39; built from integers, so FTZ cannot touch it
    x = torch.full((1 << 22,), 0x00400000, dtype=torch.int32).view(torch.float32)
    return bool(torch.count_nonzero(x * 1.0))


def _set_on_pool_threads(flag: bool = True) -> None:
    """Run ``torch.set_flush_denormal(flag)`` once on every thread of torch's OpenMP pool (libgomp)."""
    libs = glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp*.so*"))
    if not libs:
        return
    gomp = ctypes.CDLL(libs[0])  # already loaded by torch: the same library, the same thread pool
    body = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _data: torch.set_flush_denormal(flag))
    gomp.GOMP_parallel.argtypes = [type(body), ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    gomp.GOMP_parallel(body, None, torch.get_num_threads(), 0)


def flush_denormals() -> bool:
    """Flush float32 denormals to zero on the training threads (see above), once per process.

    True when in effect on every thread of torch's CPU pool; False when disabled, when the CPU has no
    FTZ/DAZ (non-x86) or when a pool thread could not be reached.
    """
    global _flushing
    if _flushing is not None:
        return _flushing
    _flushing = False
    if os.environ.get("MTLBENCH_FLUSH_DENORMAL", "1") == "0" or not torch.set_flush_denormal(True):
        return False
    if _denormals_survive():
        try:
            _set_on_pool_threads()
        except (OSError, AttributeError):
            pass
    _flushing = not _denormals_survive()
    return _flushing


@contextlib.contextmanager
def exact_floats() -> Iterator[None]:
    """IEEE denormals inside the block (FTZ/DAZ off on the calling thread and torch's pool), flushing as
    before after it. A no-op unless ``flush_denormals`` turned flushing on in this process."""
    if not _flushing:
        yield
        return
    torch.set_flush_denormal(False)
    _set_on_pool_threads(False)
    try:
        yield
    finally:
        torch.set_flush_denormal(True)
        _set_on_pool_threads(True)


class _CompiledOrEager:
    """Calls the compiled forward; on the first failure warns once and uses the eager model from then on."""

    def __init__(self, model: torch.nn.Module):
        self.model, self.compiled = model, torch.compile(model)

    def __call__(self, *args: Any) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as err:  # noqa: BLE001 - any compiler failure: train eagerly, same results
                warnings.warn(f"torch.compile failed ({err.__class__.__name__}); training this model eagerly", stacklevel=2)
                self.compiled = None
        return self.model(*args)


def maybe_compile(model: torch.nn.Module):
    """The callable the trainer runs the forward with: the model itself unless ``MTLBENCH_COMPILE=1``."""
    if os.environ.get("MTLBENCH_COMPILE", "0") != "1":
        return model
    return _CompiledOrEager(model)
