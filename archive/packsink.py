"""Pack writing on a thread of its own, so `add` goes on encrypting while packs reach the disk.

Objects go in, in order; a `cut` closes the pack written so far (fsync, rename, folder
fsync) and hands back, in the same order, the closed pack with whatever the caller
attached to the cut: the index rows that may be committed once that pack is durable.
Writing and fsync release the GIL, so here they overlap the hashing and encryption
instead of stopping the thread that commits the index (benchmarks/README.md, issue 5).

The queue is bounded by bytes, not objects: memory stays flat, and small objects (a
note's one chunk and its envelope) flow on while a 4 MiB stage is being written. The
thread never blocks a caller after a failure: it keeps taking objects, drops them, and
reports the failure at the next call.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

from .store import ClosedPack, PackWriter, Store

IN_FLIGHT_BYTES = 4 << 20   # queued for the writing thread: a put waits above this

_OBJECT, _CUT, _STOP = 0, 1, 2
_FAILED = object()       # handed back in place of the next cut when writing failed


class PackSink:
    """Writes objects into packs on a background thread. Use as a context manager, or
    call `close` (wait for every cut) or `stop` (after an error)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._todo: queue.Queue = queue.Queue()  # bounded by _queued, below
        self._done: queue.Queue = queue.Queue()   # (ClosedPack | None, attached) per cut
        self._queued = 0                            # bytes put and not yet written
        self._room = threading.Condition()
        self._failure: BaseException | None = None
        self._cuts = 0                              # cut but not yet handed back
        self._thread = threading.Thread(target=self._run, name="testimony-packs", daemon=True)
        self._thread.start()

    def put(self, object_id: bytes, data: bytes) -> None:
        with self._room:
            while self._queued >= IN_FLIGHT_BYTES and self._failure is None:
                self._room.wait()
            self._raise_failure()
            self._queued += len(data)
        self._todo.put((_OBJECT, object_id, data))

    def cut(self, attached: Any) -> None:
        """Close the pack written so far; `attached` comes back with it from `finished`."""
        self._raise_failure()
        self._cuts += 1
        self._todo.put((_CUT, attached))

    def finished(self, *, wait: bool = False) -> Iterator[tuple[ClosedPack | None, Any]]:
        """Cuts whose pack is durable (None when nothing was written since the last cut),
        in order. With `wait`, every cut made so far. Raises what stopped the writing."""
        while self._cuts:
            if self._failure is not None and self._done.empty():
                raise self._failure
            try:
                item = self._done.get(block=wait)
            except queue.Empty:
                return
            if item is _FAILED:
                raise self._failure
            self._cuts -= 1
            yield item
        self._raise_failure()

    def close(self) -> None:
        """Stop the thread once everything queued is written; an uncut tail is dropped."""
        if self._thread.is_alive():
            self._todo.put((_STOP,))
            self._thread.join()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        pack: PackWriter | None = None
        try:
            while (item := self._todo.get())[0] != _STOP:
                if item[0] == _OBJECT:
                    if pack is None:
                        pack = self._store.writer()
                    pack.add(item[1], item[2])
                    with self._room:
                        self._queued -= len(item[2])
                        self._room.notify()
                else:
                    closed, pack = (pack.close() if pack is not None else None), None
                    self._done.put((closed, item[1]))
        except BaseException as e:   # a full or read-only disk: reported to the caller
            with self._room:
                self._failure = e
                self._room.notify_all()   # a put waiting for room raises instead
            self._done.put(_FAILED)
            while self._todo.get()[0] != _STOP:  # never leave a caller blocked on put()
                pass
        finally:
            if pack is not None:
                pack.abort()
