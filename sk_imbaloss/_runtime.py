"""Per-call torch settings for the estimator's fits and predictions, restored after.

The random generator: a seeded fit seeds torch's process-wide generator and restores
its state after (fits side by side in threads of one process draw from each other's
stream: run them in processes). Two settings cost small tabular networks dearly:

- intra-op threads: a 64-64 network on 128-row batches gains nothing from them and
  loses much when the cores are busy (another fit, pip, a browser), so such calls run
  on one thread, and larger work on no more threads than the cores other processes
  leave free (``docs/performance.md``, ``benchmarks/bench_threads.py``);
- subnormal floats: after a long fit some weights are subnormal, and every product
  with one takes a slow path on the CPU; flushing them to zero for the call keeps
  prediction fast (``benchmarks/bench_predict.py``).
"""

import os
from contextlib import contextmanager

import torch

__all__ = ["THREADED_WORK", "auto_threads", "seeded_torch", "torch_settings"]

#: Multiply-adds per batch (rows x the module's parameters) from which a call uses
#: torch's thread pool; below it, one thread.
THREADED_WORK = 2**25


def _free_cores():
    """Cores that other runnable processes leave free now (Linux's /proc/loadavg
    counts them, this one included), or every core where that cannot be read."""
    cores = os.cpu_count() or 1
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return cores
    return max(1, cores - (running - 1))


def auto_threads(module, rows):
    """One thread for small work per batch; else torch's thread count, capped by the
    cores other processes leave free (threads that wait on busy cores stall the rest)."""
    work = rows * sum(p.numel() for p in module.parameters())
    return 1 if work < THREADED_WORK else min(torch.get_num_threads(), _free_cores())


def _flushing_denormals():
    """Whether the CPU flushes subnormals now (torch can set it but not read it)."""
    return bool(torch.full((1,), 1e-39) * 1.0 == 0)


@contextmanager
def torch_settings(num_threads, device):
    """Run with ``num_threads`` intra-op threads and, on the CPU, subnormals flushed
    to zero; the process's settings are restored after."""
    threads = torch.get_num_threads()
    flush = device.type == "cpu" and not _flushing_denormals()
    torch.set_num_threads(num_threads)
    if flush:
        torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if flush:
            torch.set_flush_denormal(False)


@contextmanager
def seeded_torch(seed, device, offset=0):
    """Seed torch's generators with ``seed + offset`` (on ``device`` too) for the block
    and restore their state after; ``seed=None`` leaves them alone."""
    if seed is None:
        yield
        return
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed + offset)
        yield
