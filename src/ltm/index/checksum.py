"""Block checksums of the derived index files, checked when the files are loaded.

A file is summed in fixed blocks (CRC-32 each, ~2 GB/s here). Reading a whole 1 GB vector file
at every open would cost more than the open itself (a million vectors reopen in ~0.2 s): a file
up to ``VERIFY_ALL_BYTES`` is checked whole, a larger one on its first and last blocks and a
random sample of the others, so any damage to a large part of it (a file zeroed or overwritten
in place, a copy cut short) is found at once, and the owner compares sampled rows with the
database besides.
"""

from __future__ import annotations

import os
import random
import zlib
from collections.abc import Sequence

import numpy as np

# The sample's power is its number of blocks, its cost their bytes: 34 blocks of 256 KiB read
# 8.5 MiB per load at most. Measured on the loaded 2-core machine (load ~10), 100k store
# (100 MB of vectors), index load: 2 ms before checksums; 55-63 ms wall with 4 MiB blocks,
# whole up to 64 MiB, 8 sampled (40 MiB read); 45-55 ms with 1 MiB / 16 MiB / 16 (18 MiB).
BLOCK_BYTES = 256 << 10  # bytes summed per block
VERIFY_ALL_BYTES = 8 << 20  # data up to this size is checked whole on load
VERIFY_SAMPLE = 32  # blocks checked on load of larger data, besides the first and the last


def crc(data: bytes | memoryview | np.ndarray) -> int:
    """CRC-32 of bytes or of an array's raw bytes."""
    if isinstance(data, np.ndarray):
        return zlib.crc32(np.ascontiguousarray(data).tobytes())
    return zlib.crc32(data)


def digest(sums: Sequence[int]) -> int:
    """One CRC-32 over a list of block sums (what a database record keeps of them)."""
    return crc(np.asarray(sums, dtype="<u4").tobytes())


class BlockSummer:
    """Sums a stream of bytes in blocks of ``block`` bytes as it is written."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.sums: list[int] = []
        self._sum = 0
        self._filled = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        at = 0
        while at < len(view):
            take = min(self.block - self._filled, len(view) - at)
            self._sum = zlib.crc32(view[at:at + take], self._sum)
            self._filled += take
            at += take
            if self._filled == self.block:
                self.sums.append(self._sum)
                self._sum, self._filled = 0, 0

    def finish(self) -> list[int]:
        if self._filled:
            self.sums.append(self._sum)
            self._sum, self._filled = 0, 0
        return self.sums


def file_sums(path: str | os.PathLike[str], block: int = BLOCK_BYTES, start: int = 0) -> list[int]:
    """Block sums of a file from byte ``start`` to its end."""
    summer = BlockSummer(block)
    with open(path, "rb", buffering=0) as fp:
        fp.seek(start)
        while chunk := fp.read(block):
            summer.update(chunk)
    return summer.finish()


def verify(fd: int, start: int, length: int, block: int, sums: Sequence[int], *,
           whole: bool = False) -> str | None:
    """Check ``length`` bytes of the open file ``fd`` from ``start`` against their block sums
    (all blocks when ``whole`` or when the data is small, else a sample); the reason they do
    not match, None when they do."""
    blocks = -(-length // block) if length else 0
    if len(sums) != blocks:
        return f"{len(sums)} block sums for {blocks} blocks"
    if blocks == 0:
        return None
    if whole or length <= VERIFY_ALL_BYTES or blocks <= VERIFY_SAMPLE + 2:
        chosen = list(range(blocks))
    else:
        chosen = sorted({0, blocks - 1, *random.sample(range(1, blocks - 1), VERIFY_SAMPLE)})
    for i in chosen:
        size = min(block, length - i * block)
        data = os.pread(fd, size, start + i * block)
        if len(data) != size:
            return f"block {i} is cut short"
        if zlib.crc32(data) != sums[i]:
            return f"block {i} does not match its checksum"
    return None
