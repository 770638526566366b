"""Run an iterator ahead on its own thread, so its work overlaps the consumer's.

Used where one stage releases the GIL (decrypting and hashing a bundle stream) and the
next does too (writing packs): the two then proceed at once. The queue is bounded, so
memory stays flat; an exception in the producer is raised in the consumer; a consumer
that stops early stops the producer.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T], *, depth: int = 8) -> Iterator[T]:
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                q.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _END))
        except BaseException as e:  # handed to the consumer, which re-raises it
            put((False, e))

    thread = threading.Thread(target=run, name="testimony-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, value = q.get()
            if not ok:
                raise value
            if value is _END:
                return
            yield value
    finally:
        stop.set()
        thread.join()
