"""A few worker processes that run one object's methods, speaking pickles over pipes.

Why not multiprocessing: its fork start method would hand each worker our open files
(the archive lock among them: a worker orphaned by a kill -9 would keep the archive
locked), and its spawn and forkserver methods import the caller's __main__ again in each
worker. Here each worker is a fresh `python -c` that inherits no descriptor but its two
pipes and no TESTIMONY_PASSPHRASE, receives its state (keys included) as the first message
on its stdin — never in argv, the environment or a file — and exits when that pipe
closes, so it cannot outlive us.

Both ends are this program: the pickles never carry anything from outside but bytes.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">Q")
_STOP = object()
_ROOT = str(Path(__file__).resolve().parent.parent)   # the folder holding `archive`


class WorkerPool:
    """`submit(job, arg)` runs `state.<job>(arg)` in one of `size` worker processes; only
    the names in `state.JOBS` can be asked for. A context manager: leaving it closes the
    workers' pipes (they exit) and cancels what has not started."""

    def __init__(self, state: Any, *, size: int) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._allowed = frozenset(state.JOBS)
        self._workers = [_Worker(state) for _ in range(size)]
        self._threads = [threading.Thread(target=self._feed, args=(w,), daemon=True,
                                          name="testimony-worker-feed") for w in self._workers]
        for thread in self._threads:
            thread.start()

    def submit(self, job: str, arg: Any) -> Future:
        if job not in self._allowed:
            raise ValueError(f"{job!r} is not a job of this pool")
        future: Future = Future()
        self._jobs.put((future, job, arg))
        return future

    def _feed(self, worker: _Worker) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            future, job, arg = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                ok, value = worker.call(job, arg)
            except BaseException as e:   # the worker died: this job, and the pool, fail
                future.set_exception(RuntimeError(f"an import worker process stopped ({e})"))
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def close(self) -> None:
        # Cancel what is still queued, then stop each feeder and worker.
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                item[0].cancel()
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Worker:
    def __init__(self, state: Any) -> None:
        code = f"import sys; sys.path.insert(0, {_ROOT!r}); from archive.workerpool import serve; serve()"
        # Not even a passphrase given in our environment: the worker never unlocks anything.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TESTIMONY_PASSPHRASE")}
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, close_fds=True, env=env)
        _send(self.process.stdin, state)

    def call(self, job: str, arg: Any) -> tuple[bool, Any]:
        _send(self.process.stdin, (job, arg))
        reply = _receive(self.process.stdout)
        if reply is None:
            raise EOFError(f"exit status {self.process.wait()}")
        return reply

    def stop(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _send(pipe: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(pipe: BinaryIO) -> Any:
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    data = pipe.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)


def serve() -> None:
    """The worker's loop: state first, then (job, arg) until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is for the parent, which stops us
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr    # nothing printed by accident may corrupt the replies
    state = _receive(stdin)
    if state is None:
        return
    while (message := _receive(stdin)) is not None:
        job, arg = message
        try:
            reply = (True, getattr(state, job)(arg))
        except Exception as e:   # handed back: the parent raises it for that job
            reply = (False, e)
        try:
            _send(stdout, reply)
        except BrokenPipeError:
            return
