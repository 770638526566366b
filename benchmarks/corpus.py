"""Deterministic generated data for the benchmarks and benchmarks/memory.py.

A corpus looks like what a field team brings back: many small text notes, photos of
100 KB to 2 MB, a few videos of 10 to 50 MB, and about 15% exact duplicates (the same
photos copied from a second phone). Everything is derived from a seed, so two runs
measure the same bytes.

Bytes are made fast, not from os.urandom (≈350 MB/s here, slower than the code under
test): one random 64 KiB block, every copy of it stamped with a counter unique across
the whole run. So no two 1 MiB chunks and no two files are equal (nothing dedups by
accident), and generation runs at memory speed. The content is not meant to be secret.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

KB = 1_000
MB = 1_000_000
MIB = 1024 * 1024
BLOCK = 64 * 1024          # every 64 KiB carries a unique stamp: a 1 MiB chunk holds 16
PIECE = 16 * BLOCK         # written 1 MiB at a time

DUPLICATE_SHARE = 0.15     # of the corpus's files (and, roughly, of its bytes)
TEXT_SHARE = 0.01          # of the unique bytes: notes are many but small
PHOTO_SHARE = 0.44
VIDEO_SHARE = 0.55

_WORDS = ("hospital clinic refused treatment police statement witness night ward doctor "
          "nurse report signed stamp road checkpoint water district court letter paper "
          "family document names dates asked again waited hours morning officer").split()


class BlockSource:
    """Pseudo-random bytes at memory speed; every 64 KiB block is distinct."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._base = random.Random(seed).randbytes(BLOCK)
        self._counter = 0

    def piece(self, size: int) -> bytearray:
        """`size` (≤ 1 MiB) fresh bytes, one unique 16-byte stamp per 64 KiB."""
        buf = bytearray(self._base * (-(-size // BLOCK)))[:size]
        for offset in range(0, size, BLOCK):
            self._counter += 1
            stamp = struct.pack(">QQ", self._seed, self._counter)
            buf[offset:offset + 16] = stamp[:max(0, min(16, size - offset))]
        return buf

    def write_file(self, path: Path, size: int) -> None:
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(PIECE, left)
                f.write(self.piece(n))
                left -= n


@dataclass(frozen=True)
class Corpus:
    root: Path
    files: int
    total_bytes: int
    unique_files: int
    unique_bytes: int
    duplicate_files: int
    duplicate_bytes: int
    text_files: int
    photo_files: int
    video_files: int

    def describe(self) -> str:
        return (f"{self.files} files, {self.total_bytes / MB:,.1f} MB: {self.text_files} notes, "
                f"{self.photo_files} photos, {self.video_files} videos, of which "
                f"{self.duplicate_files} exact duplicates ({self.duplicate_bytes / MB:,.1f} MB)")


def _sizes(rng: random.Random, budget: int, low: int, high: int) -> list[int]:
    """Sizes drawn from [low, high] until `budget` is spent; the last one takes the rest."""
    sizes: list[int] = []
    while budget > 0:
        size = min(rng.randint(low, high), budget)
        if budget - size < low:      # do not leave a runt smaller than the smallest size
            size = budget
        sizes.append(size)
        budget -= size
    return sizes


def generate_corpus(root: Path, total_bytes: int, *, seed: int = 2024, sync: bool = True) -> Corpus:
    """Write a corpus of about `total_bytes` under `root` (created; must not exist)."""
    rng = random.Random(seed)
    source = BlockSource(seed)
    root.mkdir(parents=True)
    unique_budget = int(total_bytes * (1 - DUPLICATE_SHARE))
    kinds = {
        "notes": ("note-{:05d}.txt", _sizes(rng, int(unique_budget * TEXT_SHARE), 200, 16 * KB)),
        "photos": ("IMG_{:05d}.jpg", _sizes(rng, int(unique_budget * PHOTO_SHARE), 100 * KB, 2 * MB)),
        "videos": ("VID_{:04d}.mp4", _sizes(rng, int(unique_budget * VIDEO_SHARE), 10 * MB, 50 * MB)),
    }
    written: dict[str, list[Path]] = {}
    for folder, (pattern, sizes) in kinds.items():
        (root / folder).mkdir()
        written[folder] = []
        for i, size in enumerate(sizes):
            path = root / folder / pattern.format(i)
            if folder == "notes":
                _write_note(path, size, rng, i)
            else:
                source.write_file(path, size)
            written[folder].append(path)

    # The same files again, copied from "a second phone": a share of each kind.
    copies = root / "second-phone"
    copies.mkdir()
    duplicate_files = duplicate_bytes = 0
    ratio = DUPLICATE_SHARE / (1 - DUPLICATE_SHARE)
    for folder, paths in written.items():
        count = min(len(paths), round(len(paths) * ratio))
        for path in rng.sample(paths, count):
            shutil.copyfile(path, copies / f"{folder}-{path.name}")
            duplicate_files += 1
            duplicate_bytes += path.stat().st_size
    if sync:
        os.sync()  # what we generated is on disk, so its write-back does not pollute timings
    unique_files = sum(len(p) for p in written.values())
    unique_bytes = sum(p.stat().st_size for ps in written.values() for p in ps)
    return Corpus(root, unique_files + duplicate_files, unique_bytes + duplicate_bytes,
                  unique_files, unique_bytes, duplicate_files, duplicate_bytes,
                  len(written["notes"]), len(written["photos"]), len(written["videos"]))


def _write_note(path: Path, size: int, rng: random.Random, i: int) -> None:
    text = f"Note {i}: field notes, fictional.\n"
    while len(text) < size:
        text += " ".join(rng.choices(_WORDS, k=12)) + ".\n"
    path.write_bytes(text.encode("ascii")[:size])


def generate_tiny_files(root: Path, count: int, *, per_folder: int = 500) -> int:
    """`count` distinct files of a few dozen bytes (for `list`): the bytes written."""
    total = 0
    for i in range(count):
        folder = root / f"batch-{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        data = f"Tiny note {i}: the clinic was closed at {i % 24:02d}:00.\n".encode("ascii")
        (folder / f"note-{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def generate_large_file(path: Path, size: int, *, seed: int = 7) -> None:
    """One file of `size` bytes whose 1 MiB chunks are all distinct, fsynced."""
    BlockSource(seed).write_file(path, size)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def warm(*paths: Path) -> int:
    """Read each file of `paths` (files, or folders walked) once, untimed, so that the
    timed run finds them in the page cache; returns the bytes read. This VM's host takes
    back page cache left idle for a while (seen: the first `cat` of the corpus took 0.73 s
    after a few minutes, the next 0.11 s), so "the corpus is in the page cache" is made
    true before each round rather than assumed."""
    total = 0
    for top in map(Path, paths):
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.is_file():
                with open(path, "rb", buffering=0) as f:
                    while chunk := f.read(4 << 20):
                        total += len(chunk)
    return total
