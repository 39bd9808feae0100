"""How a comparison's processes end: on SIGINT and SIGTERM with the fits that finished
kept, and its process workers with it, however it ends.

Torch-free, so that the command line can take the folder's lock and handle signals
before importing the runner.
"""

import os
import signal
import threading
import time
from contextlib import contextmanager

__all__ = ["Interrupted", "init_worker", "stop_on_signals"]


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM stopped a comparison; the fits that finished are kept.

    Not a ``KeyboardInterrupt``: skorch's fit loop catches that, stops training and
    keeps the half-trained model, which is right for a user's own ``fit()`` but would
    have a comparison score a cut fit as if it were whole. This passes straight through.

    Attributes
    ----------
    signum : int
    exit_status : int
        ``128 + signum``, the shell's convention: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum):
        super().__init__(signum)  # the args, so that it pickles back from a worker
        self.signum = signum
        self.exit_status = 128 + signum

    def __str__(self):
        return f"interrupted by {signal.Signals(self.signum).name}"


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextmanager
def stop_on_signals():
    """Turn SIGINT and SIGTERM into :class:`Interrupted` for the duration; then restore
    the handlers there were. Only the main thread can set handlers; elsewhere (a Dask
    worker's thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_interrupted)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _end_with(parent):
    # A process whose parent ends is given another (init, or a subreaper): polled,
    # because nothing tells a process so on every system.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def init_worker(parent):
    """Initializer of process workers.

    A terminal's Ctrl-C reaches the workers as well: the parent alone handles it, and
    ends them, fits and all. And a parent killed outright (SIGKILL, the OOM killer)
    cannot end them: each ends itself within a second of the parent's end, instead of
    idling (a few hundred MB each) until the pool's five-minute timeout.

    Parameters
    ----------
    parent : int
        The process id of the run; in that process itself (a backend that runs the
        initializer in place) nothing is done.
    """
    if os.getpid() == parent:
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(parent,), daemon=True,
                     name="end-with-parent").start()
