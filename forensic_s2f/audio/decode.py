"""Decode evidential audio (any format FFmpeg reads) without ever modifying the original.

All sample rates are in Hz, durations in seconds, samples float32 with full scale ±1 (lossy
decoders may exceed it a little: their samples are kept as FFmpeg gives them, never clipped).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from forensic_s2f.audio.container import (EXPECTED_MEDIA_TYPES, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, amr_silence_frames,
                                          check_stated_audio, check_wav_layout, refuse_if_cut, sniff_media_type,
                                          states_exact_duration, wav_layout)
from forensic_s2f.audio.pcm import PcmFile, PcmWriter
from forensic_s2f.audio.resample import resampled
from forensic_s2f.audio.tags import BoundedFile, flac_extent
from forensic_s2f.errors import InputError, require_text_name

TARGET_SAMPLE_RATE = 16_000
VERIFY_CHUNK_SECONDS = 60.0
MAX_FIRST_ALLOCATION_SECONDS = 4 * 3600.0  # `load` sizes its array from the header up to this, then grows it
# FFmpeg's 'no timestamp' reaches us as about -5.8e14 s: ADPCM in WAV stamps only its first frame.
NO_TIMESTAMP_SECONDS = -1e9
# A jump in a stream's timestamps this long (s) is a gap a player would leave (a recorder's
# pause). Shorter jumps are left alone: some muxers stamp Vorbis frames in Matroska in the wrong
# unit (a frame of N samples advancing N ms), jumping 0.5 s per frame at 16 kHz.
TIMESTAMP_GAP_SECONDS = 1.0

# libsndfile gives exactly FFmpeg's float samples for these (tests/test_pcm.py checks each), so
# they are read directly: no FFmpeg, no torchcodec import (about 1.3 s) and about 15 times
# faster. Values: FFmpeg's codec name, recorded in AudioInfo.
_LIBSNDFILE_CODECS = {
    **{(container, subtype): codec for container in ("WAV", "WAVEX") for subtype, codec in {
        "PCM_U8": "pcm_u8", "PCM_16": "pcm_s16le", "PCM_24": "pcm_s24le", "PCM_32": "pcm_s32le",
        "FLOAT": "pcm_f32le", "DOUBLE": "pcm_f64le", "ULAW": "pcm_mulaw", "ALAW": "pcm_alaw"}.items()},
    **{("FLAC", subtype): "flac" for subtype in ("PCM_S8", "PCM_16", "PCM_24")},
}

# libsndfile's frame count for a stream whose header leaves its length open (e.g. a FLAC
# STREAMINFO with 0 total samples, as streaming encoders write); it cannot read such a file.
_LIBSNDFILE_UNKNOWN_LENGTH = 2**63 - 1

# Integer samples this quiet use few of their levels, and their quantisation noise is loud against
# the speech. A 25.5 s recording of four s2f-pairs voices stored as 16-bit samples peaking at -42,
# -48 and -54 dBFS (9, 8 and 7 bits of levels used) gave its 4 speakers each time; at -60 dBFS
# (6 bits) two of them were joined (a format review). The same in 24-bit samples was analysed
# correctly at -60 dBFS: the warning is about the samples' resolution, not the level. Warned
# under 7 bits, where a speaker was lost (an 8-bit file peaking under -6 dBFS is warned of too).
MIN_EFFECTIVE_BITS = 7
PCM_CODEC = re.compile(r"pcm_[su](8|16|24|32)(le|be)?")
_LIBSNDFILE_BITS = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


FFMPEG_INTEGER_BITS = {"u8": 8, "u8p": 8, "s16": 16, "s16p": 16, "s32": 32, "s32p": 32}


def integer_bits(codec: str, sample_format: str | None = None) -> int | None:
    """The bits of a stream's integer samples: from FFmpeg's name of an integer PCM codec
    ('pcm_s16le': 16), else from the integer sample format FFmpeg decodes it to (FLAC: 's16', or
    's32' for 24 bits, which overstates them); None for floating-point samples."""
    match = PCM_CODEC.fullmatch(codec)
    return int(match.group(1)) if match else FFMPEG_INTEGER_BITS.get(str(sample_format))


def resolution_warnings(bits: int | None, peak: float) -> tuple[str, ...]:
    """A warning when integer samples of `bits` bits (None: not integer samples, or not known)
    peak so low (`peak`: 1.0 = full scale) that fewer than MIN_EFFECTIVE_BITS bits of their levels
    are used."""
    if bits is None or peak <= 0:
        return ()
    used = bits + math.log2(min(peak, 1.0))
    if used >= MIN_EFFECTIVE_BITS:
        return ()
    return (f"very low level for {bits}-bit samples: the loudest reaches {20 * math.log10(peak):.0f} dBFS, so under "
            f"{MIN_EFFECTIVE_BITS} of their {bits} bits are used ({max(used, 0):.1f}) and their quantisation noise is "
            "loud against the speech: speakers may be joined or missed and estimates be off",)


def name_warnings(name: str, media_type: str) -> tuple[str, ...]:
    """A warning when the file's name says one format and its leading bytes another (an MP3
    named .wav): the file may have been renamed, which an examiner should know of."""
    suffix = Path(name).suffix.lower()
    expected = EXPECTED_MEDIA_TYPES.get(suffix)
    if expected is None or media_type == "application/octet-stream" or media_type in expected:
        return ()
    return (f"the file's name ends in {Path(name).suffix!r}, but its bytes are {media_type}: it may have been "
            "renamed",)


@dataclass(frozen=True)
class AudioInfo:
    """What the decoder found in a file, read by decoding every sample once; `warnings` are
    what its samples call for (see SampleTally)."""

    media_type: str
    codec: str
    sample_rate: int
    channels: int
    duration_seconds: float
    warnings: tuple[str, ...] = ()


MAX_PEAK = 2.0  # a larger magnitude (over +6 dB relative to full scale) is warned of
# Channels cancel each other when their mono average is this much quieter than averaging unrelated
# channels makes it (10·log10(channels) dB: 3 dB for two).
MAX_MIXDOWN_LOSS_DB = 12.0
# Channels hold different audio (one party per channel, as a call recorder writes) when the level
# of one sounding channel against another varies from moment to moment by more than this
# (standard deviation over ENVELOPE_FRAME-sample frames of the difference of their log energies,
# dB). On 6 recordings of s2f-pairs speech: the same sound picked up by two microphones 0-10 ms
# apart, at other gains, over faint or -45 dBFS noise, varies by 1.6-3.2 dB (at 48 kHz, up to 20 ms
# apart, each microphone with its own room echo of 0.3-0.6 s: up to 6.7 dB); two people on their
# own channels by 14-20 dB when they speak at once (also inside 5 minutes of shared silence), over
# 30 dB when they take turns, 14-15 dB with each one's voice leaking 15 dB down into the other's
# channel. (The envelopes' correlation, used before, read 0.5-0.8 for two people speaking at once
# whose channels share silence, as a call recorder's do before and after the call: no warning.)
MAX_LEVEL_SPREAD_DB = 8.0
ACTIVE_RANGE_DB = 30.0  # frames this far under the loudest (their 99th percentile) are left out of it
ENVELOPE_FRAME = 512
MIN_CHANNEL_RMS = 1e-4  # (-80 dBFS) quieter channels are silence: nothing to cancel


@dataclass
class SampleTally:
    """What the samples at the file's own rate hold, tallied chunk by chunk while decoding (and,
    from the start, the warnings the file's layout called for):
    samples that are not numbers (NaN or infinite; they become 0, silence), the largest
    magnitude (1.0 = full scale), and the energies of the channels (their mean) and of their
    mono average, whose ratio shows channels that cancel when averaged (one of them wired in
    reverse polarity), and the channels' loudness envelopes (log10 energy of ENVELOPE_FRAME-sample
    frames, kept as float16: 2.7 MB for two hours of 48 kHz stereo), whose difference shows
    channels that hold different audio."""

    layout_warnings: tuple[str, ...] = ()  # what the file's layout called for (check_wav_layout)
    samples: int = 0  # per channel
    channels: int = 1
    non_finite: int = 0
    peak: float = 0.0
    mixdown_energy: float = 0.0
    timestamp_gaps: list[tuple[float, float]] = field(default_factory=list)  # (at s of audio, gap s): see _frames
    energies: np.ndarray | None = None  # (channels,) each channel's energy
    envelopes: list[np.ndarray] = field(default_factory=list)  # (channels, frames) float16 per chunk

    def mono(self, chunk: np.ndarray) -> np.ndarray:
        """`chunk` (channels, samples) tallied and averaged to mono float32, non-finite samples set to 0."""
        finite = np.isfinite(chunk)
        if not finite.all():
            self.non_finite += int(chunk.size - np.count_nonzero(finite))
            chunk = np.where(finite, chunk, np.float32(0.0))
        if chunk.size:
            self.peak = max(self.peak, float(chunk.max()), -float(chunk.min()))
        self.samples += chunk.shape[-1]
        self.channels = chunk.shape[0]
        if chunk.shape[0] == 1:
            return chunk[0]
        mono = chunk.mean(axis=0, dtype=np.float32)
        energies = np.array([float(np.dot(row, row)) for row in chunk])
        self.mixdown_energy += float(np.dot(mono, mono))
        self._envelopes(chunk, energies)
        return mono

    def _envelopes(self, chunk: np.ndarray, energies: np.ndarray) -> None:
        """Add the chunk's channel energies and envelopes (a chunk's last partial frame is left out)."""
        self.energies = energies if self.energies is None else self.energies + energies
        frames = chunk.shape[-1] // ENVELOPE_FRAME
        if frames:
            framed = chunk[:, : frames * ENVELOPE_FRAME].reshape(len(chunk), frames, ENVELOPE_FRAME)
            envelope = np.log10(np.einsum("cfs,cfs->cf", framed, framed).astype(np.float64) / ENVELOPE_FRAME + 1e-10)
            self.envelopes.append(envelope.astype(np.float16))

    def sounding_channels(self) -> np.ndarray:
        """Indices of the channels louder than MIN_CHANNEL_RMS over the whole file."""
        if self.energies is None:
            return np.arange(0)
        return np.flatnonzero(np.sqrt(self.energies / max(self.samples, 1)) > MIN_CHANNEL_RMS)

    def largest_level_spread_db(self) -> float | None:
        """The largest standard deviation of the level of one sounding channel against another
        (dB), over the frames where some channel sounds within ACTIVE_RANGE_DB of the loudest
        frames (what all channels share, silence or steady noise, would dilute it: a call of 30 s
        in 5 minutes of shared noise read 15 dB, in 10 minutes under 8); None with fewer than two
        sounding channels."""
        sounding = self.sounding_channels()
        if len(sounding) < 2 or not self.envelopes:
            return None
        envelope = np.concatenate(self.envelopes, axis=1)[sounding].astype(np.float32)
        loudest = envelope.max(axis=0)
        active = envelope[:, loudest >= np.quantile(loudest, 0.99) - ACTIVE_RANGE_DB / 10]
        if active.shape[1] < 2:
            return None
        return max(10 * float(np.std(active[a] - active[b]))  # (log10 energy → dB)
                   for a in range(len(sounding)) for b in range(a + 1, len(sounding)))

    def warnings(self) -> tuple[str, ...]:
        found = []
        if self.non_finite:
            found.append(f"{self.non_finite} decoded samples were not numbers (NaN or infinite) and were set to 0 (silence)")
        if self.peak > MAX_PEAK:
            found.append(f"samples reach {20 * np.log10(self.peak):+.0f} dB relative to full scale (floating-point audio far "
                         "beyond ±1): voice activity, SNR and clipping figures may be off")
        channel_energy = float(self.energies.sum()) / self.channels if self.energies is not None else 0.0  # (their mean)
        if self.channels > 1 and np.sqrt(channel_energy / max(self.samples, 1)) > MIN_CHANNEL_RMS:
            loss_db = 10 * np.log10(channel_energy / max(self.mixdown_energy, 1e-30))
            if loss_db > MAX_MIXDOWN_LOSS_DB + 10 * np.log10(self.channels):
                found.append(f"the {self.channels} channels cancel when averaged to mono (the mixdown is {min(loss_db, 99):.0f} dB "
                             "quieter than the channels, as when one channel's polarity is reversed): speech may be "
                             "missed; listen to each channel")
        if self.timestamp_gaps:
            at, gap = max(self.timestamp_gaps, key=lambda item: item[1])
            count = len(self.timestamp_gaps)
            found.append(f"the stream's timestamps jump {count} time{'s' if count > 1 else ''} by more than "
                         f"{TIMESTAMP_GAP_SECONDS:g} s (the longest by {gap:.3f} s, {at:.3f} s into the audio; "
                         f"{sum(g for _, g in self.timestamp_gaps):.3f} s in all), as where a recorder paused: the audio "
                         "is analysed end to end, so times after a jump are that much earlier than a player shows")
        spread = self.largest_level_spread_db()
        if spread is not None and spread > MAX_LEVEL_SPREAD_DB:
            found.append(f"the {self.channels} channels hold different audio (the level of one against another varies "
                         f"by {spread:.0f} dB from moment to moment; one sound picked up twice varies by 2-6 dB), as "
                         "when each party of a call has its own channel or a channel holds only noise or effects: they "
                         "are analysed averaged to mono; listen to each channel")
        sounding = set(self.sounding_channels().tolist())
        silent = self.channels - len(sounding)
        if self.channels > 1 and 0 < silent < self.channels:
            names = ", ".join(str(c + 1) for c in range(self.channels) if c not in sounding)
            found.append(f"channel{'s' if silent > 1 else ''} {names} of {self.channels} hold{'' if silent > 1 else 's'} "
                         f"no sound (under {20 * np.log10(MIN_CHANNEL_RMS):.0f} dBFS): only the others are heard, "
                         "averaged with the silence")
        return tuple(found) + self.layout_warnings


@dataclass(frozen=True)
class StreamInfo:
    """An audio stream's codec (FFmpeg's name), native rate in Hz, channel count, the duration
    its header states (seconds; None when it states none) and the bits of its integer samples
    (None: not integer samples, or not known)."""

    codec: str
    sample_rate: int
    num_channels: int
    header_seconds: float | None
    integer_bits: int | None = None


@dataclass(frozen=True)
class DecodedAudio:
    """Mono audio resampled to `sample_rate` Hz, plus what the original was."""

    samples: np.ndarray
    sample_rate: int
    info: AudioInfo

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def check_readable_file(path: Path) -> None:
    """Refuse what is not a non-empty, readable regular file with a UTF-8 name, naming the reason."""
    if not path.exists():
        if path.is_symlink():  # (a link whose target is missing, or a loop of links)
            raise InputError(path, f"is a symbolic link that leads to no file ({_link_failure(path)})")
        raise InputError(path, "no such file")
    require_text_name(path)
    if path.is_dir():
        raise InputError(path, "is a directory, not a file")
    if not path.is_file():
        raise InputError(path, "is not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "permission denied (not readable)")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        raise InputError(path, f"cannot be read ({error.strerror or error})") from None
    if size == 0:
        raise InputError(path, "is empty (0 bytes)")


def _link_failure(path: Path) -> str:
    """Why following the symbolic link `path` fails, in the system's words."""
    try:
        os.stat(path)
    except OSError as error:
        return error.strerror or str(error)
    return "its target went away"


def _source(path: Path) -> str | BoundedFile:
    """What a decoder should read: the file, or the bytes of its FLAC stream when other formats'
    tags surround it (`tags.flac_extent`). A decoder that is handed a BoundedFile owns it. The
    path is absolute: FFmpeg takes a relative name such as `concat:a.wav` or `pipe:0` for a
    protocol, and would read other bytes than the file's."""
    extent = flac_extent(path)
    return os.path.abspath(path) if extent is None else BoundedFile(path, extent)


@contextmanager
def _opened_source(path: Path) -> Iterator[str | BoundedFile]:
    """`_source(path)` for the length of a `with` block."""
    source = _source(path)
    try:
        yield source
    finally:
        if isinstance(source, BoundedFile):
            source.close()


def layout_warnings(path: Path) -> tuple[str, ...]:
    """What the file's layout calls for: bytes of a WAV file outside its stated audio
    (`check_wav_layout`, which also refuses a cut WAV file; `check_stated_audio` a cut W64 or
    CAF file), tags around a FLAC stream, a container's other audio streams and a late start
    (`stream_warnings`)."""
    extent = flac_extent(path)
    check_stated_audio(path)
    return check_wav_layout(path) + (() if extent is None else (extent.warning(),)) + stream_warnings(path)


# Formats that hold one audio stream starting at 0 s: no container to ask (and WAV and FLAC, which
# libsndfile reads, need no FFmpeg at all).
SINGLE_STREAM_TYPES = ("audio/wav", "audio/flac", "audio/aiff", "audio/basic", "audio/x-rf64", "audio/x-w64",
                       "audio/x-caf")
# An encoder's delay also starts a stream late (MP3 about 0.07 s, AAC 2112 samples: 0.26 s at
# 8 kHz), and players count from its first sample then: only a later start is warned of.
LATE_START_SECONDS = 0.5


def stream_warnings(path: Path) -> tuple[str, ...]:
    """What a container's streams call for: audio streams besides the one analysed (FFmpeg's
    default choice: only it is decoded), and an audio stream that starts later than the file's
    other streams (times in the analysis count from its first sample, a player's from the file's
    start). The start is measured against the earliest stream, not 0 s: MPEG-TS timestamps start
    anywhere, and players count from the first."""
    if sniff_media_type(path) in SINGLE_STREAM_TYPES:
        return ()
    from torchcodec import _core

    decoder = _decoder(path)
    chosen = decoder.metadata
    every = _core.get_container_metadata(decoder._decoder).streams
    streams = [s.stream_index for s in every if isinstance(s, _core.AudioStreamMetadata)]
    warnings = []
    if len(streams) > 1:
        others = ", ".join(str(index) for index in streams if index != chosen.stream_index)
        warnings.append(f"the file holds {len(streams)} audio streams: only stream {chosen.stream_index} "
                        f"(FFmpeg's default choice) is analysed, not stream{'s' if len(streams) > 2 else ''} {others}")
    starts = [float(s.begin_stream_seconds_from_header) for s in every
              if s.begin_stream_seconds_from_header is not None]
    late = float(chosen.begin_stream_seconds or 0.0) - min(starts, default=0.0)
    if late > LATE_START_SECONDS:
        warnings.append(f"the audio stream starts {late:.3f} s after the file's other streams: times in this analysis "
                        f"count from its first sample (add {late:.3f} s for the file's timeline, as a player shows it)")
    return tuple(warnings)


def _decoder(path: Path):
    """FFmpeg's decoder of the file's audio stream, at the stream's own rate and channels."""
    from torchcodec.decoders import AudioDecoder

    try:
        return AudioDecoder(_source(path))
    except Exception as error:  # torchcodec raises RuntimeError/ValueError with FFmpeg's text
        if "best audio stream is unknown" in str(error):
            raise InputError(path, "cannot be decoded as audio (no audio stream)") from None
        raise _undecodable(path, error) from None


def _undecodable(path: Path, error: Exception) -> InputError:
    """The one-line error for a file FFmpeg failed to decode, with FFmpeg's reason and, for an
    AMR file, the silence-compression frames FFmpeg's decoder fails on (the same speech without
    them decodes)."""
    silence = amr_silence_frames(path)
    note = (f"; it holds {silence} AMR silence-compression frames (SID or NO_DATA: a phone's discontinuous "
            "transmission), which this FFmpeg does not decode") if silence else ""
    return InputError(path, f"cannot be decoded as audio ({_short(error)}{note})")


def _short(error: Exception) -> str:
    """FFmpeg's reason without torchcodec's source locations, on one line."""
    text = " ".join(str(error).split())
    if "patches welcome" in text.lower():  # (FFmpeg's words for a codec or feature it lacks)
        return "its codec, or a feature of it, is not supported by this FFmpeg"
    return text.rsplit(", ", 1)[-1][:160] if text else type(error).__name__


def _frames(path: Path, decoder, gaps: list[tuple[float, float]] | None = None) -> Iterator[np.ndarray]:
    """The decoder's frames one after another, shape (channels, samples), without the samples
    before 0 s (as a whole decode leaves them out). The decoder never seeks: torchcodec's public
    range call sends it back to the start of the stream whenever a range begins inside the last
    decoded frame, as consecutive chunks do, so each chunk re-read the file from the start (time
    quadratic in duration) and AAC's noise substitution drew other noise after each restart (up
    to -51 dBFS off). Ranges placed by timestamps fail too: Vorbis frames' timestamps do not add
    up to their sample counts. A frame without a timestamp follows the one before: IMA and MS
    ADPCM in WAV stamp only their first frame, and a whole decode dropped the rest (87 % of a
    40 s dictaphone file). Frames are joined end to end; where a frame's timestamp lies more than
    `TIMESTAMP_GAP_SECONDS` after the previous frame's end, (where in the decoded audio, how far)
    in seconds is added to `gaps`."""
    from torchcodec import _core

    rate = decoder.metadata.sample_rate
    before_zero = None  # samples still to leave out; None until the first frame that ends after 0 s
    frame_end = decoded = None  # (seconds on the stream's timeline; seconds of audio yielded)
    while True:
        try:
            frame, start, duration = _core.get_next_frame(decoder._decoder)  # (times in seconds)
        except IndexError:  # (torchcodec's end of stream)
            return
        except Exception as error:
            raise _undecodable(path, error) from None
        start = None if float(start) < NO_TIMESTAMP_SECONDS else float(start)
        if before_zero is None:  # (frames before 0 s, an encoder's priming, come first)
            start = 0.0 if start is None else start
            if start + float(duration) <= 0:
                continue
            before_zero, decoded = max(0, round(-start * rate)), 0.0
        elif start is not None and gaps is not None and start - frame_end > TIMESTAMP_GAP_SECONDS:
            gaps.append((decoded, start - frame_end))
        frame_end = (start if start is not None else frame_end) + frame.shape[-1] / rate
        data = frame.numpy()[:, before_zero:]
        before_zero -= frame.shape[-1] - data.shape[-1]
        decoded += data.shape[-1] / rate
        yield data


def iter_chunks(path: Path, chunk_seconds: float = VERIFY_CHUNK_SECONDS,
                gaps: list[tuple[float, float]] | None = None) -> Iterator[np.ndarray]:
    """FFmpeg's samples at the stream's own rate in chunks of whole codec frames, about
    `chunk_seconds` each, shape (channels, samples): exactly the samples of one decode of the
    whole stream (torchcodec's `get_all_samples`, and the `ffmpeg` command's), whatever the
    chunk size, except frames after the first whose timestamps are missing or fall before 0 s,
    which a whole decode drops and these keep (see `_frames`). Memory stays bounded by one
    chunk, whatever the file's length.

    A stream that ends more than `TRUNCATION_TOLERANCE` short of the duration its header states
    exactly (`states_exact_duration`) is refused as truncated.
    """
    decoder = _decoder(path)
    rate = decoder.metadata.sample_rate
    pending: list[np.ndarray] = []
    held = decoded = 0  # samples
    for frame in _frames(path, decoder, gaps):
        pending.append(frame)
        held += frame.shape[-1]
        decoded += frame.shape[-1]
        if held >= chunk_seconds * rate:
            yield np.concatenate(pending, axis=1)
            pending, held = [], 0
    if pending:
        yield np.concatenate(pending, axis=1)
    stated = decoder.metadata.duration_seconds
    if stated and states_exact_duration(path, str(decoder.metadata.codec)):
        refuse_if_cut(path, decoded / rate, stated)
    extent = flac_extent(path)
    if stated and extent is not None and decoded != round(stated * rate):
        # (bytes taken for a tag that were the stream's own: the stream then ends short)
        raise InputError(path, f"cannot be decoded as audio (truncated: {decoded} of {round(stated * rate)} samples)")


def _audio_stream(path: Path) -> StreamInfo:
    """What FFmpeg says of the file's audio stream; InputError when there is none."""
    meta = _decoder(path).metadata
    if not meta.sample_rate or not meta.num_channels:
        raise InputError(path, "cannot be decoded as audio (no audio stream)")
    return _plausible(path, StreamInfo(str(meta.codec), int(meta.sample_rate), int(meta.num_channels),
                                       meta.duration_seconds, integer_bits(str(meta.codec), getattr(meta, "sample_format", None))))


def _direct_stream(path: Path) -> StreamInfo | None:
    """The stream of a WAV/FLAC file libsndfile reads exactly as FFmpeg does; None for anything
    else (FFmpeg decodes it), a WAV file with several data chunks included."""
    import soundfile

    if sniff_media_type(path) not in ("audio/wav", "audio/flac"):
        return None
    layout = wav_layout(path)
    if layout is not None and layout.earlier_data:
        return None
    try:
        with _opened_source(path) as source:
            info = soundfile.info(source)
    except (RuntimeError, soundfile.SoundFileError):  # FFmpeg may still read it, or say why not
        return None
    codec = _LIBSNDFILE_CODECS.get((info.format, info.subtype))
    if codec is None or info.channels < 1 or not 0 < info.frames < _LIBSNDFILE_UNKNOWN_LENGTH:
        return None  # (a header that states no samples, or an unknown count, is left to FFmpeg, which reads on)
    return StreamInfo(codec, info.samplerate, info.channels, info.frames / info.samplerate,
                      _LIBSNDFILE_BITS.get(info.subtype))


def _direct_chunks(path: Path, chunk_seconds: float = VERIFY_CHUNK_SECONDS) -> Iterator[np.ndarray]:
    """libsndfile's float32 samples in chunks of shape (channels, samples), like `iter_chunks`."""
    import soundfile

    try:
        with _opened_source(path) as source, soundfile.SoundFile(source) as audio:
            expected, read = audio.frames, 0
            for block in audio.blocks(blocksize=int(chunk_seconds * audio.samplerate), dtype="float32", always_2d=True):
                read += len(block)
                yield np.ascontiguousarray(block.T)
    except (RuntimeError, soundfile.SoundFileError) as error:
        raise InputError(path, f"cannot be decoded as audio ({_short(error)})") from None
    if read != expected:
        raise InputError(path, f"cannot be decoded as audio (truncated: {read} of {expected} samples)")


def _mono_source(path: Path, sample_rate: int) -> tuple[StreamInfo, Iterator[np.ndarray], str, SampleTally]:
    """The file's stream info, its mono float32 chunks at `sample_rate` Hz, which decoder read
    it, and the tally of its samples (complete once the chunks are read). Samples are decoded
    at the file's own rate, channels averaged, then resampled by `resampled` (so both decoders
    give the same samples)."""
    tally = SampleTally(layout_warnings=layout_warnings(path))
    stream, chunks, decoder = _native_source(path, tally.timestamp_gaps)
    return stream, resampled(map(tally.mono, chunks), stream.sample_rate, sample_rate), decoder, tally


def _native_source(path: Path, gaps: list[tuple[float, float]]) -> tuple[StreamInfo, Iterator[np.ndarray], str]:
    """The file's stream info, its chunks at the file's own rate and channels, and which decoder
    reads them: libsndfile where it reads the stream exactly as FFmpeg does, else FFmpeg (which
    adds the gaps in the stream's timestamps to `gaps`, see `_frames`)."""
    stream = _direct_stream(path)
    if stream is not None:
        return _plausible(path, stream), _direct_chunks(path), "libsndfile"
    return _audio_stream(path), iter_chunks(path, gaps=gaps), "FFmpeg (torchcodec)"


def _plausible(path: Path, stream: StreamInfo) -> StreamInfo:
    """`stream`, refused (InputError) when its header states a sample rate no recording has."""
    if not MIN_SAMPLE_RATE <= stream.sample_rate <= MAX_SAMPLE_RATE:
        raise InputError(path, f"cannot be decoded as audio (its header states a sample rate of {stream.sample_rate} "
                               f"Hz; audio has {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)")
    return stream


def _info(path: Path, meta: StreamInfo, duration_seconds: float, tally: SampleTally) -> AudioInfo:
    if duration_seconds <= 0:
        raise InputError(path, "contains no audio samples")
    media_type = sniff_media_type(path)
    return AudioInfo(
        media_type=media_type,
        codec=meta.codec,
        sample_rate=meta.sample_rate,
        channels=meta.num_channels,
        duration_seconds=duration_seconds,
        warnings=tally.warnings() + resolution_warnings(meta.integer_bits, tally.peak) + name_warnings(path.name, media_type),
    )


def probe(path: Path) -> AudioInfo:
    """Decode every sample once at the native rate to prove the file is whole audio.

    A WAV file is read by the decoder the analysis reads it with (FFmpeg read a
    WAVE_FORMAT_EXTENSIBLE file of 24 valid bits in 32 as 24-bit float: intake recorded codec
    pcm_f24le and 'samples not numbers', while the analysis's libsndfile read it exactly); any
    other file by FFmpeg, which checks a compressed stream more strictly than libsndfile (a FLAC
    stream whose last frame a tag overwrote). Raises InputError for files that are missing,
    empty, not audio, truncated or corrupt. A file whose every sample is zero is warned of
    (here only, for intake: its analysis warns of no speech).
    """
    path = Path(path)
    check_readable_file(path)
    tally = SampleTally(layout_warnings=layout_warnings(path))
    if sniff_media_type(path) == "audio/wav":
        meta, chunks, _ = _native_source(path, tally.timestamp_gaps)
    else:
        meta, chunks = _audio_stream(path), iter_chunks(path, gaps=tally.timestamp_gaps)
    for chunk in chunks:
        tally.mono(chunk)
    info = _info(path, meta, tally.samples / float(meta.sample_rate), tally)
    if tally.peak > 0:
        return info
    return replace(info, warnings=info.warnings + (
        "every sample is zero (digital silence): the file holds no sound, so analysis will find no speech in it",))


def load(path: Path, sample_rate: int = TARGET_SAMPLE_RATE) -> DecodedAudio:
    """The whole file as mono float32 at `sample_rate` Hz (channels averaged), decoded once.

    Raises InputError like `probe` (a truncated or corrupt file fails while decoding); the
    info's duration is counted at `sample_rate`.
    """
    path = Path(path)
    check_readable_file(path)
    stream, chunks, _, tally = _mono_source(path, sample_rate)
    # One array sized from the header's duration, filled in place (doubled if the header was
    # short): peak memory stays about one copy of the result plus one chunk.
    expected = min(stream.header_seconds or 0.0, MAX_FIRST_ALLOCATION_SECONDS)  # (a header may state anything)
    samples = np.zeros(int(np.ceil(expected * sample_rate)) + sample_rate, np.float32)
    filled = 0
    for mono in chunks:
        if filled + len(mono) > len(samples):
            samples = np.concatenate([samples, np.zeros(max(filled + len(mono), 2 * len(samples)) - len(samples), np.float32)])
        samples[filled: filled + len(mono)] = mono
        filled += len(mono)
    return DecodedAudio(samples=samples[:filled], sample_rate=sample_rate, info=_info(path, stream, filled / sample_rate, tally))


def decode_to_pcm(path: Path, destination: Path, sample_rate: int = TARGET_SAMPLE_RATE) -> tuple[PcmFile, str, AudioInfo, str]:
    """Decode the file into the raw float32 file `destination`, a chunk at a time, so memory
    stays one chunk whatever the duration. Returns the PcmFile, the SHA-256 of its samples
    (equal to `pcm_sha256` of what `load` returns), what the original was, and the decoder
    that read it ('libsndfile' or 'FFmpeg (torchcodec)'; both give the same samples)."""
    path = Path(path)
    check_readable_file(path)
    stream, chunks, decoder, tally = _mono_source(path, sample_rate)
    with PcmWriter(destination, sample_rate) as writer:
        for mono in chunks:
            writer.write(mono)
        pcm, digest = writer.close()
    return pcm, digest, _info(path, stream, pcm.duration_seconds, tally), decoder
