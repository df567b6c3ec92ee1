"""Tags of other formats that tagging programs put around a FLAC stream, and a read-only view of
the bytes between them.

A FLAC file carries its tags in its own metadata blocks. Some taggers nevertheless add an ID3v2
tag before the stream, or an APEv2, ID3v1 or ID3v2.4 tag after it. FFmpeg skips a leading ID3v2 tag
but takes trailing tags for damaged audio, and libsndfile reads past any trailing bytes without
a word (so it cannot tell a tag from damage). The tags are recognised by their own framing
(offsets and sizes in bytes), left out of decoding through `BoundedFile`, and named in a warning.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ID3V1_BYTES = 128
ID3V2_FRAME_BYTES = 10  # an ID3v2 header, or an ID3v2.4 footer
APE_FOOTER_BYTES = 32
APE_HAS_HEADER = 1 << 31  # (flag in the footer: a 32-byte header precedes the items)


def leading_id3v2_bytes(path: Path) -> int:
    """Bytes taken by the ID3v2 tags the file starts with (taggers may leave several in a row):
    each a 10-byte header, the size it states in four 7-bit bytes, and a 10-byte footer where an
    ID3v2.4 header flags one; 0 for none."""
    offset = 0
    with open(path, "rb") as handle:
        while True:
            handle.seek(offset)
            head = handle.read(ID3V2_FRAME_BYTES)
            if len(head) < ID3V2_FRAME_BYTES or head[:3] != b"ID3" or any(byte & 0x80 for byte in head[6:10]):
                return offset
            footer = ID3V2_FRAME_BYTES if head[3] == 4 and head[5] & 0x10 else 0
            offset += ID3V2_FRAME_BYTES + _syncsafe(head[6:10]) + footer


def _syncsafe(size: bytes) -> int:
    """An ID3v2 size: four bytes of 7 bits each, most significant first."""
    return sum(byte << (7 * (3 - i)) for i, byte in enumerate(size))


def _appended_id3v2_bytes(handle: BinaryIO, start: int, end: int) -> int:
    """Length of the ID3v2.4 tag that ends at byte `end` (ID3v2.4 lets a tag follow the audio,
    found by its 10-byte footer "3DI"), 0 when the bytes there are none: the header it points
    back to must repeat the footer's version, flags and size."""
    if end - start < ID3V2_FRAME_BYTES:
        return 0
    handle.seek(end - ID3V2_FRAME_BYTES)
    footer = handle.read(ID3V2_FRAME_BYTES)
    if footer[:3] != b"3DI" or footer[3] != 4 or any(byte & 0x80 for byte in footer[6:10]):
        return 0
    length = 2 * ID3V2_FRAME_BYTES + _syncsafe(footer[6:10])
    if end - length <= start + 4:
        return 0
    handle.seek(end - length)
    return length if handle.read(ID3V2_FRAME_BYTES) == b"ID3" + footer[3:] else 0


def _ape_tag_bytes(handle: BinaryIO, start: int, end: int) -> int:
    """Length of the APE tag (v1 or v2: items, footer, and a header where flagged) that ends at
    byte `end`, 0 when the bytes there are none: the items the footer counts must fill exactly
    the bytes it states, each a value size, flags, a NUL-terminated printable key and the value."""
    if end - start < APE_FOOTER_BYTES:
        return 0
    handle.seek(end - APE_FOOTER_BYTES)
    footer = handle.read(APE_FOOTER_BYTES)
    if footer[:8] != b"APETAGEX":
        return 0
    _, stated, count, flags = struct.unpack("<IIII", footer[8:24])  # (version, items + footer, items, flags)
    length = stated + (APE_FOOTER_BYTES if flags & APE_HAS_HEADER else 0)
    if stated < APE_FOOTER_BYTES or end - length <= start + 4:
        return 0
    handle.seek(end - stated)
    items = handle.read(stated - APE_FOOTER_BYTES)
    position = 0
    for _ in range(count):
        key_end = items.find(b"\0", position + 8)
        key = items[position + 8: key_end]
        if key_end < 0 or not 2 <= len(key) <= 255 or not all(0x20 <= byte <= 0x7E for byte in key):
            return 0
        position = key_end + 1 + int.from_bytes(items[position: position + 4], "little")
    if position != len(items):
        return 0
    handle.seek(end - length)
    return length if length == stated or handle.read(8) == b"APETAGEX" else 0


@dataclass(frozen=True)
class StreamExtent:
    """Bytes [start, end) of a file hold its audio stream; `tags` describe what lies outside."""

    start: int
    end: int
    tags: tuple[str, ...]

    def warning(self) -> str:
        listed = self.tags[0] if len(self.tags) == 1 else ", ".join(self.tags[:-1]) + " and " + self.tags[-1]
        return (f"the file holds {listed} besides its FLAC stream (written by a tagging program; no part of the "
                "FLAC format): not audio, left out of decoding; the file's SHA-256 covers every byte")


def flac_extent(path: Path) -> StreamExtent | None:
    """Where the FLAC stream of `path` lies when ID3v2, APE or ID3v1 tags surround it; None
    when the file is nothing but a FLAC stream (or no FLAC file at all)."""
    start = leading_id3v2_bytes(path)
    with open(path, "rb") as handle:
        handle.seek(start)
        if handle.read(4) != b"fLaC":
            return None
        before = [f"ID3v2 tags ({start} bytes, before the stream)"] if start else []
        after: list[str] = []
        end = handle.seek(0, io.SEEK_END)
        found = {"ID3v1": False, "APE": False, "ID3v2": False}
        while True:  # (the trailing tags, in any order)
            handle.seek(max(end - ID3V1_BYTES, 0))
            if not found["ID3v1"] and end - ID3V1_BYTES > start + 4 and handle.read(3) == b"TAG":
                end, found["ID3v1"] = end - ID3V1_BYTES, True
                after.insert(0, f"an ID3v1 tag ({ID3V1_BYTES} bytes, after the stream)")
            elif not found["APE"] and (length := _ape_tag_bytes(handle, start, end)):
                end, found["APE"] = end - length, True
                after.insert(0, f"an APE tag ({length} bytes, after the stream)")
            elif not found["ID3v2"] and (length := _appended_id3v2_bytes(handle, start, end)):
                end, found["ID3v2"] = end - length, True
                after.insert(0, f"an ID3v2 tag ({length} bytes, after the stream)")
            else:
                break
    if not before and not after:
        return None
    return StreamExtent(start, end, tuple(before + after))


class BoundedFile(io.RawIOBase):
    """Read-only file object showing bytes [start, end) of a file as a whole file (what FFmpeg's
    and libsndfile's file-object readers take)."""

    def __init__(self, path: Path, extent: StreamExtent) -> None:
        super().__init__()
        self._file = open(path, "rb")
        self._start, self._length, self._position = extent.start, extent.end - extent.start, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._length - self._position))
        self._file.seek(self._start + self._position)
        data = self._file.read(count)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
