"""What a recording's leading bytes and headers state, read without decoding it: the media type,
the layout of WAV, W64 and CAF files, whether the header counts the audio exactly (so that a file
that decodes shorter was cut), and the silence frames of an AMR file.

Sizes are in bytes, durations in seconds, rates in Hz.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forensic_s2f.audio.tags import leading_id3v2_bytes
from forensic_s2f.errors import InputError

# Sample rates a real recording can have (Hz); a header stating 1 Hz made 40 s of audio 640000 s.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 1_000_000
TRUNCATION_TOLERANCE = 0.02  # of the duration a header states exactly (and at least 1 s)

# Leading bytes → media type. Order matters: the first match wins.
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"#!AMR", "audio/amr"),
    (0, b".snd", "audio/basic"),
    (0, b"FORM", "audio/aiff"),
    (0, b"RF64", "audio/x-rf64"),
    (0, b"riff\x2e\x91\xcf\x11", "audio/x-w64"),
    (0, b"caff", "audio/x-caf"),
    (4, b"ftypM4A", "audio/mp4"),
    (4, b"ftypqt", "video/quicktime"),
    (4, b"ftyp3gp", "video/3gpp"),
    (4, b"ftyp", "video/mp4"),
]


_WAV = frozenset({"audio/wav", "audio/x-rf64", "audio/x-w64"})
_MP4 = frozenset({"audio/mp4", "video/mp4", "video/quicktime", "video/3gpp"})
_MATROSKA = frozenset({"video/webm", "video/x-matroska"})
# What a file name's extension leads one to expect its leading bytes to hold; other extensions,
# and contents the bytes do not tell (application/octet-stream), are not judged.
EXPECTED_MEDIA_TYPES = {
    ".wav": _WAV, ".wave": _WAV, ".rf64": _WAV, ".w64": _WAV, ".bwf": _WAV,
    ".mp3": frozenset({"audio/mpeg"}), ".flac": frozenset({"audio/flac"}), ".aac": frozenset({"audio/aac"}),
    ".ogg": frozenset({"audio/ogg"}), ".oga": frozenset({"audio/ogg"}), ".opus": frozenset({"audio/ogg"}),
    ".m4a": _MP4, ".mp4": _MP4, ".mov": _MP4, ".3gp": _MP4, ".amr": frozenset({"audio/amr"}),
    ".webm": _MATROSKA, ".mka": _MATROSKA, ".mkv": _MATROSKA,
    ".aif": frozenset({"audio/aiff"}), ".aiff": frozenset({"audio/aiff"}), ".au": frozenset({"audio/basic"}),
    ".caf": frozenset({"audio/x-caf"}),
}


def sniff_media_type(path: Path) -> str:
    """The media type from the file's leading bytes (not its name)."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head[:4] == b"\x1aE\xdf\xa3":  # EBML: its DocType tells WebM from other Matroska files
        return "video/x-matroska" if b"matroska" in head else "video/webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):
        return "audio/aac"
    if head[:3] == b"ID3":  # (MP3 as a rule; a tag may also open a FLAC stream, or ADTS AAC as HLS writes)
        with open(path, "rb") as handle:
            handle.seek(leading_id3v2_bytes(path))
            after = handle.read(4)
        if after == b"fLaC":
            return "audio/flac"
        return "audio/aac" if after[:2] in (b"\xff\xf1", b"\xff\xf9") else "audio/mpeg"  # (ADTS AAC: streams, HLS)
    for offset, magic, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    return "application/octet-stream"


def _wav_chunks(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """A RIFF/WAVE file's chunks as (id, offset of the data, size stated) in file order, up to
    the first 8 bytes that cannot be a chunk header (a non-ASCII id)."""
    with open(path, "rb") as handle:
        offset = 12
        handle.seek(offset)
        while len(header := handle.read(8)) == 8 and all(32 <= byte < 127 for byte in header[:4]):
            size = int.from_bytes(header[4:], "little")
            yield header[:4], offset + 8, size
            offset += 8 + size + size % 2
            handle.seek(offset)


@dataclass(frozen=True)
class WavLayout:
    """What a WAV file's chunks state (bytes): where the audio data starts, how much the data
    chunk says it holds, the byte rate (all channels, per second), where the last chunk ends, and
    the sizes of data chunks before the one decoded (the format has one; FFmpeg decodes the last,
    libsndfile refuses such a file)."""

    data_start: int
    data_size: int
    byte_rate: int
    chunks_end: int
    earlier_data: tuple[int, ...] = ()


def wav_layout(path: Path) -> WavLayout | None:
    """The layout of a WAV file whose data chunk states its size; None for any other file, or a
    data chunk that states none (0 or 0xFFFFFFFF, as a recorder streaming the file writes)."""
    if sniff_media_type(path) != "audio/wav":
        return None
    chunks, end, data = {}, 12, []
    for chunk, start, size in _wav_chunks(path):
        chunks.setdefault(chunk, (start, size))
        end = start + size + size % 2
        if chunk == b"data":
            data.append((start, size))
    if data:
        chunks[b"data"] = data[-1]
    if b"data" not in chunks or chunks[b"data"][1] in (0, 0xFFFFFFFF):
        return None
    byte_rate = 0
    if b"fmt " in chunks:
        with open(path, "rb") as handle:
            handle.seek(chunks[b"fmt "][0] + 8)
            byte_rate = int.from_bytes(handle.read(4), "little")
    return WavLayout(*chunks[b"data"], byte_rate, end, tuple(size for _, size in data[:-1]))


def check_wav_layout(path: Path) -> tuple[str, ...]:
    """Refuse a WAV file cut short: its data chunk states more audio than the file holds, by
    more than `TRUNCATION_TOLERANCE` (and 1 s). FFmpeg and libsndfile both read what is there
    and take the duration from the file's size, so neither notices.

    Returns the warnings its layout calls for: bytes after the stated audio data that are no
    RIFF chunk (a header that understates the audio: only the stated part is decoded), and data
    chunks before the last (only the last is decoded)."""
    layout = wav_layout(path)
    if layout is None:
        return ()
    size = path.stat().st_size
    present = size - layout.data_start
    if layout.byte_rate:
        refuse_if_cut(path, present / layout.byte_rate, layout.data_size / layout.byte_rate)
    warnings = []
    if layout.earlier_data:
        count, held = len(layout.earlier_data) + 1, sum(layout.earlier_data)
        seconds = f", {held / layout.byte_rate:.1f} s at the file's byte rate" if layout.byte_rate else ""
        warnings.append(f"{count} data chunks where the WAV format has one: only the last is analysed, not the "
                        f"{held} bytes of the earlier{seconds}")
    unexplained = size - layout.chunks_end
    if unexplained >= 8:
        warnings.append(f"{unexplained} bytes after the audio data that the WAV header states are no part of the "
                        "file's layout (the header may understate the audio): only the stated audio is analysed")
    return tuple(warnings)


W64_CHUNK_SUFFIX = bytes.fromhex("f3acd3118cd100c04f8edb8a")  # (the GUIDs of W64's chunks after their 4 letters)


def _stated_audio(path: Path) -> tuple[int, int, int] | None:
    """(where the audio data starts, bytes its header states, bytes per second) of a W64 or CAF
    file with constant-size packets, whose header counts its audio although FFmpeg times it by
    the file's size; None for other files, or a size stated as open."""
    media_type = sniff_media_type(path)
    end = path.stat().st_size
    with open(path, "rb") as handle:
        if media_type == "audio/x-w64":  # (16-byte GUID and 8-byte size, header included, per chunk; 8-byte aligned)
            offset, byte_rate = 40, 0
            while len(header := (handle.seek(offset), handle.read(24))[1]) == 24:
                size = int.from_bytes(header[16:], "little")
                if header[:4] == b"fmt " and header[4:16] == W64_CHUNK_SUFFIX:
                    byte_rate = int.from_bytes((handle.seek(offset + 32), handle.read(4))[1], "little")
                if header[:4] == b"data" and header[4:16] == W64_CHUNK_SUFFIX:
                    return (offset + 24, size - 24, byte_rate) if byte_rate and size >= 24 else None
                if not 24 <= size <= end:
                    return None
                offset += size + (-size) % 8
        elif media_type == "audio/x-caf":  # (4-letter type and 8-byte big-endian size per chunk)
            offset, byte_rate = 8, 0
            while len(header := (handle.seek(offset), handle.read(12))[1]) == 12:
                size = int.from_bytes(header[4:], "big", signed=True)
                if header[:4] == b"desc":
                    desc = handle.read(32)
                    if len(desc) < 32:
                        return None
                    rate = struct.unpack(">d", desc[:8])[0]
                    packet_bytes, packet_frames = struct.unpack(">II", desc[16:24])
                    if not (np.isfinite(rate) and 0 < rate <= MAX_SAMPLE_RATE and packet_bytes and packet_frames):
                        return None
                    byte_rate = round(rate * packet_bytes / packet_frames)
                if header[:4] == b"data":  # (its first 4 bytes count edits)
                    return (offset + 16, size - 4, byte_rate) if byte_rate and size >= 4 else None
                if not 0 <= size <= end:
                    return None
                offset += 12 + size
    return None


def check_stated_audio(path: Path) -> None:
    """Refuse a W64 or CAF file cut short (see `_stated_audio`), as `check_wav_layout` a WAV file."""
    stated = _stated_audio(path)
    if stated is not None:
        start, size, byte_rate = stated
        refuse_if_cut(path, max(path.stat().st_size - start, 0) / byte_rate, size / byte_rate)


def states_exact_duration(path: Path, codec: str) -> bool:
    """Whether the file's header counts its audio, so that decoding less means a cut file:
    MP4/QuickTime/3GP (the movie header), FLAC (STREAMINFO), PCM AIFF/AIFC (COMM), Sun AU and RF64
    (their data sizes; an AU stating none gets a duration from its size) and an MP3 whose first
    frame is a Xing, Info or VBRI header (LAME and most encoders write one). For other files
    FFmpeg estimates the duration (from the bit rate, or from an Ogg file's last page; a WAV
    file's from its size, see `check_wav_layout`; W64 and CAF files' too, see
    `check_stated_audio`)."""
    media_type = sniff_media_type(path)
    if media_type in ("audio/mp4", "video/mp4", "video/quicktime", "video/3gpp", "audio/flac", "audio/basic",
                      "audio/x-rf64"):
        return True
    if media_type == "audio/aiff":  # (FFmpeg misreads a compressed AIFF-C's count: GSM 6.10 gave 160 times it)
        return codec.startswith("pcm_")
    if media_type != "audio/mpeg":
        return False
    with open(path, "rb") as handle:
        handle.seek(leading_id3v2_bytes(path))  # (past tags before the first frame)
        first_frame = handle.read(200)
    return first_frame[:1] == b"\xff" and any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def refuse_if_cut(path: Path, present_seconds: float, stated_seconds: float) -> None:
    """InputError when the audio ends more than `TRUNCATION_TOLERANCE` (and 1 s) short of the
    duration the file's header states."""
    if present_seconds < stated_seconds - max(TRUNCATION_TOLERANCE * stated_seconds, 1.0):
        raise InputError(path, f"cannot be decoded as audio (truncated: its audio ends at {present_seconds:.1f} s "
                               f"of the {stated_seconds:.1f} s its header states)")


AMR_NB_MAGIC = b"#!AMR\n"
# AMR-NB storage format (RFC 4867, section 5): each frame is a header byte (frame type in bits
# 6-3) and that type's payload: 8 modes of speech, SID (type 8: comfort noise) and NO_DATA (15).
AMR_NB_PAYLOAD_BYTES = {0: 12, 1: 13, 2: 15, 3: 17, 4: 19, 5: 20, 6: 26, 7: 31, 8: 5, 15: 0}
AMR_SILENCE_TYPES = (8, 15)


def amr_silence_frames(path: Path) -> int:
    """How many SID and NO_DATA frames an AMR-NB file holds, read frame by frame until the end or
    a frame type it does not know; 0 for any other file."""
    count = 0
    try:
        with open(path, "rb") as handle:
            if handle.read(len(AMR_NB_MAGIC)) != AMR_NB_MAGIC:
                return 0
            while header := handle.read(1):
                kind = (header[0] >> 3) & 0x0F
                if kind not in AMR_NB_PAYLOAD_BYTES:
                    break
                count += kind in AMR_SILENCE_TYPES
                handle.seek(AMR_NB_PAYLOAD_BYTES[kind], os.SEEK_CUR)
    except OSError:
        return 0
    return count
