"""Tags of other formats that tagging programs put around a FLAC stream, and a read-only view of
the bytes between them.

A FLAC file carries its tags in its own metadata blocks. Some taggers nevertheless add an ID3v2
tag before the stream, or an APEv2 and/or ID3v1 tag after it. FFmpeg skips a leading ID3v2 tag
but takes trailing tags for damaged audio, and libsndfile reads past any trailing bytes without
a word (so it cannot tell a tag from damage). The tags are recognised by their own framing
(offsets and sizes in bytes), left out of decoding through `BoundedFile`, and named in a warning.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

ID3V1_BYTES = 128
APE_FOOTER_BYTES = 32
APE_HAS_HEADER = 1 << 31  # (flag in the footer: a 32-byte header precedes the items)


def id3v2_bytes(head: bytes) -> int:
    """Length in bytes of the ID3v2 tag `head` starts with (its 10-byte header, the size that
    header states in four 7-bit bytes, and a 10-byte footer if flagged); 0 for no tag."""
    if len(head) < 10 or head[:3] != b"ID3" or any(byte & 0x80 for byte in head[6:10]):
        return 0
    size = sum(byte << (7 * (3 - i)) for i, byte in enumerate(head[6:10]))
    return 10 + size + (10 if head[5] & 0x10 else 0)


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
    """Where the FLAC stream of `path` lies when ID3v2, APEv2 or ID3v1 tags surround it; None
    when the file is nothing but a FLAC stream (or no FLAC file at all)."""
    with open(path, "rb") as handle:
        start = id3v2_bytes(handle.read(10))
        handle.seek(start)
        if handle.read(4) != b"fLaC":
            return None
        before = [f"an ID3v2 tag ({start} bytes, before the stream)"] if start else []
        after: list[str] = []
        end = handle.seek(0, io.SEEK_END)
        handle.seek(max(end - ID3V1_BYTES, 0))
        if end - ID3V1_BYTES > start + 4 and handle.read(3) == b"TAG":
            end -= ID3V1_BYTES
            after.append(f"an ID3v1 tag ({ID3V1_BYTES} bytes, at the file's end)")
        handle.seek(max(end - APE_FOOTER_BYTES, 0))
        footer = handle.read(APE_FOOTER_BYTES)
        if len(footer) == APE_FOOTER_BYTES and footer[:8] == b"APETAGEX":
            stated = int.from_bytes(footer[12:16], "little")  # items and footer
            length = stated + (APE_FOOTER_BYTES if int.from_bytes(footer[20:24], "little") & APE_HAS_HEADER else 0)
            if stated >= APE_FOOTER_BYTES and end - length > start + 4:
                end -= length
                after.insert(0, f"an APE tag ({length} bytes, after the stream)")
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
