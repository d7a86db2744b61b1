"""Graceful stop on SIGINT/SIGTERM: the first signal sets a flag the trainer checks at step boundaries."""
import signal
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    """Context manager; inside it, SIGINT/SIGTERM set `requested` instead of killing the process.

    A second signal restores the previous handlers' behaviour (KeyboardInterrupt
    for SIGINT), so a stuck run can still be stopped. Outside the main thread
    signals cannot be caught, and the manager does nothing.
    """

    def __init__(self):
        self.requested = None        # the signal number once one arrived
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested is not None:
            self._restore()
            signal.raise_signal(signum)
            return
        self.requested = signum

    def _restore(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        self._restore()
