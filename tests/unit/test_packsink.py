"""archive.packsink: packs written on their own thread, handed back in order."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from archive.packsink import IN_FLIGHT_BYTES, PackSink

from archive.store import PackWriter, Store


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "home")
    s.create()
    return s


def _obj(i: int) -> tuple[bytes, bytes]:
    data = f"object {i}".encode() * 50
    return hashlib.sha256(data).digest(), data


def test_cuts_come_back_in_order_with_what_was_attached(store):
    sink = PackSink(store)
    for pack in range(3):
        for i in range(4):
            sink.put(*_obj(pack * 10 + i))
        sink.cut(f"rows of pack {pack}")
    sink.cut("nothing written since")
    done = list(sink.finished(wait=True))
    sink.close()
    assert [attached for _, attached in done] == ["rows of pack 0", "rows of pack 1",
                                                  "rows of pack 2", "nothing written since"]
    assert done[-1][0] is None
    for pack, (closed, _) in enumerate(done[:3]):
        assert [e.object_id for e in closed.entries] == [_obj(pack * 10 + i)[0] for i in range(4)]
        assert store.pack_path(closed.pack_id).exists()   # durable and visible before handed back


def test_finished_without_wait_returns_only_what_is_done(store):
    sink = PackSink(store)
    assert list(sink.finished()) == []
    sink.put(*_obj(1))
    sink.cut("a")
    assert len(list(sink.finished(wait=True))) == 1
    assert list(sink.finished(wait=True)) == []   # nothing left: does not block
    sink.close()


def test_close_drops_an_uncut_tail(store):
    sink = PackSink(store)
    sink.put(*_obj(1))
    sink.close()
    assert list(store.pack_ids()) == [] and list(store.tmp_dir.iterdir()) == []


def test_a_write_failure_reaches_the_caller_and_never_blocks_it(store, monkeypatch):
    monkeypatch.setattr("archive.store.os.write", lambda fd, data: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    sink = PackSink(store)
    big = b"x" * (5 << 20)   # more than one staging buffer: written at once
    with pytest.raises(OSError):
        # The thread fails on the first object; later puts must raise, not block on a
        # full queue nobody takes from.
        for _ in range(4 * IN_FLIGHT_BYTES // len(big) + 4):
            sink.put(hashlib.sha256(big).digest(), big)
    with pytest.raises(OSError):
        list(sink.finished(wait=True))
    sink.close()
    assert list(store.tmp_dir.iterdir()) == []


def test_a_failure_after_good_cuts_hands_those_back_first(store, monkeypatch):
    sink = PackSink(store)
    sink.put(*_obj(1))
    sink.cut("good")
    assert [a for _, a in sink.finished(wait=True)] == ["good"]
    monkeypatch.setattr("archive.store.os.fsync", lambda fd: (_ for _ in ()).throw(
        OSError(5, "Input/output error")))
    sink.put(*_obj(2))
    sink.cut("lost")
    with pytest.raises(OSError) as raised:
        list(sink.finished(wait=True))
    assert raised.value.errno == 5
    sink.close()
    assert len(list(store.pack_ids())) == 1


def _stalled_disk(monkeypatch) -> threading.Event:
    """The writing thread stalls at its first object until the event is set."""
    release = threading.Event()
    real_add = Store.writer

    def slow_writer(self):
        release.wait(10)
        return real_add(self)

    monkeypatch.setattr(Store, "writer", slow_writer)
    return release


def _chunk(i: int, size: int) -> tuple[bytes, bytes]:
    data = i.to_bytes(4, "big") * (size // 4)
    return hashlib.sha256(data).digest(), data


def test_the_queue_is_bounded_by_bytes(store, monkeypatch):
    """A slow disk holds the producer back: memory stays flat."""
    release = _stalled_disk(monkeypatch)
    sink = PackSink(store)
    queued = threading.Event()
    count = IN_FLIGHT_BYTES // (1 << 20) + 3

    def fill():
        for i in range(count):
            sink.put(*_chunk(i, 1 << 20))
        queued.set()

    filler = threading.Thread(target=fill)
    filler.start()
    assert not queued.wait(0.5)   # blocked: at most IN_FLIGHT_BYTES wait (plus one in hand)
    release.set()
    filler.join(10)
    assert queued.is_set()
    sink.cut("all")
    (closed, _), = sink.finished(wait=True)
    sink.close()
    assert len(closed.entries) == count


def test_small_objects_flow_while_the_disk_is_busy(store, monkeypatch):
    """A note's chunk and envelope are a few KiB: hundreds fit in the bound, so a folder
    of notes does not wait on every write."""
    release = _stalled_disk(monkeypatch)
    sink = PackSink(store)
    queued = threading.Event()

    def fill():
        for i in range(500):
            sink.put(*_chunk(i, 4096))
        queued.set()

    filler = threading.Thread(target=fill)
    filler.start()
    assert queued.wait(5)         # 2 MiB in all: never blocked
    release.set()
    filler.join(10)
    sink.cut("all")
    (closed, _), = sink.finished(wait=True)
    sink.close()
    assert len(closed.entries) == 500


def test_a_put_waiting_for_room_raises_when_the_disk_fails(store, monkeypatch):
    release = _stalled_disk(monkeypatch)
    monkeypatch.setattr("archive.store.os.write", lambda fd, data: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    sink = PackSink(store)
    outcome: list[BaseException] = []

    def fill():
        try:
            for i in range(IN_FLIGHT_BYTES // (1 << 20) + 8):
                sink.put(*_chunk(i, 1 << 20))
        except OSError as e:
            outcome.append(e)

    filler = threading.Thread(target=fill)
    filler.start()
    time.sleep(0.3)               # the filler is now waiting for room
    release.set()
    filler.join(10)
    assert not filler.is_alive() and outcome and outcome[0].errno == 28
    sink.close()
    assert list(store.tmp_dir.iterdir()) == []

