"""Process-level speed settings of the trainer, each measured with ``benchmarks/throughput.py``
(figures in benchmarks/README.md).

- ``tune_cpu_allocator``: glibc's malloc returns every freed block above 128 KiB to the OS (mmap /
  trim), so each training step re-faults its activations page by page (~550 page faults per mmoe step
  at batch 1024, ~1 ms of kernel time per step on the 2-core benchmark machine). Serving blocks up to
  32 MiB from the heap and keeping freed heap memory (up to 1 GiB) removes those faults; the resident
  set then stays at the training working set's high-water mark. Off with ``MTLBENCH_MALLOC_TUNING=0``.
- ``maybe_compile``: ``torch.compile`` of the model's forward, opt-in with ``MTLBENCH_COMPILE=1``. On
  the 2-thread CPU it made the mmoe step slower (measured), so it is not the default; any compile
  error falls back to the eager model for the rest of the run.
"""
from __future__ import annotations

import ctypes
import os
import sys
import warnings
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
