"""The embedded broker of `make run` and the tests: kombu's filesystem transport, made to notice
a shutdown at once.

Celery's blocking consumer loop (used for transports without an event loop, such as this one)
waits in `drain_events(timeout=2.0)`, and runs one more cycle after the shutdown flag is seen;
kombu's virtual transport sleeps a whole polling interval between empty polls. Together a
SIGTERM took 6 to 9 seconds to end the worker, past honcho's 5-second grace, so `make run`'s
Ctrl-C ended in a SIGKILL. Here the wait is cut into short slices and ends as soon as the
worker has been asked to stop.
"""

from queue import Empty
from time import monotonic, sleep

from kombu.transport import filesystem

#: How long one idle wait lasts before the stop flag is checked again.
SLICE_SECONDS = 0.05


def _stopping() -> bool:
    from celery.worker import state

    return state.should_stop is not None or state.should_terminate is not None


class Transport(filesystem.Transport):
    #: Seconds between two listings of an empty queue folder (kombu's default is 1).
    polling_interval = 0.25

    def drain_events(self, connection, timeout=None):
        """Deliver one message, or raise TimeoutError (socket.timeout) after `timeout` seconds
        or as soon as the worker is stopping, whichever comes first."""
        started = monotonic()
        while not _stopping():
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            next_poll = monotonic() + self.polling_interval
            while monotonic() < next_poll and not _stopping():
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError()
                sleep(SLICE_SECONDS)
        raise TimeoutError()
