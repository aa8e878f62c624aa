"""The embedded broker of `make run` and the tests: kombu's filesystem transport, made to notice
a shutdown at once, and to hand over only whole messages.

Celery's blocking consumer loop (used for transports without an event loop, such as this one)
waits in `drain_events(timeout=2.0)`, and runs one more cycle after the shutdown flag is seen;
kombu's virtual transport sleeps a whole polling interval between empty polls. Together a
SIGTERM took 6 to 9 seconds to end the worker, past honcho's 5-second grace, so `make run`'s
Ctrl-C ended in a SIGKILL. Here the wait is cut into short slices and ends as soon as the
worker has been asked to stop.

kombu writes a message file under its final name, so a worker listing the folder between the
producer's open() and write() took it and read it empty; the JSONDecodeError ended the worker
and, under honcho, all of `make run`. Here a message is written under a name no reader lists
and renamed into place when whole (a rename is atomic on one filesystem), and a file that still
cannot be read (written by something else, or cut short by a crash) is moved aside with the
reason logged — never dropped, never fatal.
"""

import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic, sleep

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

#: How long one idle wait lasts before the stop flag is checked again.
SLICE_SECONDS = 0.05


def _stopping() -> bool:
    from celery.worker import state

    return state.should_stop is not None or state.should_terminate is not None


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message under a hidden name, then rename it to the name readers list."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        # ".<name>.part": kombu's reader matches what follows the first dot against
        # "<queue>.msg", which this never is.
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc

    def _get(self, queue):
        """The next message of `queue`; a file that does not decode is moved aside, logged."""
        while True:
            payload, name = self._take(queue)
            try:
                return loads(bytes_to_str(payload))
            except ValueError as exc:
                self._keep_unreadable(name, payload, exc)

    def _take(self, queue) -> tuple[bytes, str]:
        """Move the oldest file of `queue` out of the folder and read it (kombu's order)."""
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != f"{queue}.msg":
                continue
            # The processed folder (beside the queue: a rename, never a copy), as kombu does
            # only when it keeps processed messages; else the temporary folder, as kombu does.
            keep = self.processed_folder
            taken = os.path.join(keep if os.path.isdir(keep) else tempfile.gettempdir(), name)
            try:
                shutil.move(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another worker took it
            try:
                with open(taken, "rb") as file:
                    payload = file.read()
                if not self.store_processed:
                    os.remove(taken)
            except OSError as exc:
                raise ChannelError(f"Cannot read file {taken!r} from queue.") from exc
            return payload, name
        raise Empty()

    def _keep_unreadable(self, name: str, payload: bytes, error: Exception) -> None:
        folder = Path(
            self.transport_options.get("unreadable_folder")
            or f"{self.data_folder_in.rstrip(os.sep)}-unreadable"
        )
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(payload)
        logger.error(
            "Broker message file %s could not be read (%s); kept in %s", name, error, folder
        )


class Transport(filesystem.Transport):
    Channel = Channel

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
