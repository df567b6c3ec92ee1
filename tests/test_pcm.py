"""Decoded audio on disk (PcmFile): the stages give the same results from it as from an array,
and reading a long recording through it keeps memory bounded."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import forensic_s2f  # noqa: F401  (offline settings before third-party imports)
from forensic_s2f.audio.decode import decode_to_pcm, load
from forensic_s2f.audio.denoise import SpectralGateDenoiser
from forensic_s2f.audio.pcm import PcmFile, PcmWriter, as_samples, pcm_sha256
from forensic_s2f.audio.quality import measure_quality
from forensic_s2f.audio.vad import SileroVAD
from forensic_s2f.diarize.embeddings import WindowEmbedder

RATE = 16_000


def _voice_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic bursts (1.5 s on, 0.5 s off) over low noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) for f in (140, 280, 420, 840)) * 0.1
    on = (t % 2.0) < 1.5
    return (voice * on + rng.standard_normal(len(t)) * 0.003).astype(np.float32)


def _pcm(tmp_path, samples: np.ndarray) -> PcmFile:
    with PcmWriter(tmp_path / "audio.f32", RATE) as writer:
        for start in range(0, len(samples), 7_777):  # odd block size: writes need not align
            writer.write(samples[start: start + 7_777])
        pcm, digest = writer.close()
    assert digest == pcm_sha256(samples) == pcm_sha256(pcm)
    return pcm


def test_slices_read_the_samples_written(tmp_path):
    samples = _voice_like(3.0)
    pcm = _pcm(tmp_path, samples)
    assert len(pcm) == len(samples) and pcm.duration_seconds == pytest.approx(3.0)
    for piece in (slice(0, 10), slice(100, 47_000), slice(47_000, None), slice(-5, None), slice(10, 5)):
        assert np.array_equal(pcm[piece], samples[piece])
    with pytest.raises(TypeError):
        pcm[5]
    with pytest.raises(TypeError):
        pcm[::2]
    with pytest.raises(ValueError, match="mono"):
        as_samples(np.zeros((2, 100)))
    assert as_samples(np.zeros((100, 1))).shape == (100,)


def test_decode_to_pcm_equals_load(tmp_path):
    stereo = np.stack([_voice_like(4.0, 1), _voice_like(4.0, 2)], axis=1)
    path = tmp_path / "stereo48k.flac"
    sf.write(path, np.repeat(stereo, 3, axis=0), 48_000, subtype="PCM_16")
    pcm, digest, info, decoder = decode_to_pcm(path, tmp_path / "decoded.f32")
    loaded = load(path)
    assert np.array_equal(pcm[:], loaded.samples) and digest == pcm_sha256(loaded.samples)
    assert info == loaded.info and info.channels == 2 and info.sample_rate == 48_000
    assert decoder == "libsndfile" and len(loaded.samples) == 4 * RATE


@pytest.mark.parametrize("container, subtype, rate", [
    ("WAV", "PCM_16", RATE), ("WAV", "PCM_24", RATE), ("WAV", "PCM_32", RATE), ("WAV", "PCM_U8", RATE),
    ("WAV", "FLOAT", RATE), ("WAV", "DOUBLE", RATE), ("WAV", "ULAW", 8_000), ("WAV", "ALAW", 8_000),
    ("WAVEX", "PCM_16", 48_000), ("FLAC", "PCM_16", 44_100), ("FLAC", "PCM_24", RATE), ("FLAC", "PCM_S8", RATE)])
def test_wav_and_flac_read_directly_give_ffmpegs_samples(tmp_path, container, subtype, rate):
    from torchcodec.decoders import AudioDecoder

    from forensic_s2f.audio.decode import probe
    from forensic_s2f.audio.resample import resampled

    three = np.stack([_voice_like(2.0, seed) for seed in range(3)], axis=1) * 3  # some clipping too
    path = tmp_path / f"three.{'flac' if container == 'FLAC' else 'wav'}"
    sf.write(path, np.clip(three, -1, 1), rate, format=container, subtype=subtype)
    pcm, digest, info, decoder = decode_to_pcm(path, tmp_path / "decoded.f32")
    ffmpeg = AudioDecoder(str(path)).get_all_samples().data.numpy().mean(axis=0, dtype=np.float32)
    assert decoder == "libsndfile" and info.sample_rate == rate
    assert replace(info, duration_seconds=0.0) == replace(probe(path), duration_seconds=0.0)
    assert info.duration_seconds == pytest.approx(probe(path).duration_seconds, abs=1 / RATE)
    assert np.array_equal(pcm[:], np.concatenate(list(resampled(iter([ffmpeg]), rate, RATE))))
    assert np.array_equal(load(path).samples, pcm[:])


def test_other_formats_go_through_ffmpeg_and_a_cut_flac_is_refused(tmp_path):
    from forensic_s2f.errors import InputError

    samples = _voice_like(3.0)
    sf.write(tmp_path / "a.ogg", samples, RATE, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "sized.wav", samples, 44_100, subtype="PCM_16")
    unsized = bytearray((tmp_path / "sized.wav").read_bytes())  # size fields zeroed, as a recorder
    at = unsized.index(b"data")                                    # stopped mid-write leaves them
    unsized[4:8] = unsized[at + 4: at + 8] = bytes(4)
    (tmp_path / "unsized.wav").write_bytes(unsized)
    for name in ("a.ogg", "unsized.wav"):
        assert decode_to_pcm(tmp_path / name, tmp_path / "decoded.f32")[3] == "FFmpeg (torchcodec)"
    assert decode_to_pcm(tmp_path / "sized.wav", tmp_path / "decoded.f32")[3] == "libsndfile"
    assert np.array_equal(load(tmp_path / "unsized.wav").samples, load(tmp_path / "sized.wav").samples)
    sf.write(tmp_path / "whole.flac", samples, RATE, subtype="PCM_16")
    cut = tmp_path / "cut.flac"
    cut.write_bytes((tmp_path / "whole.flac").read_bytes()[:20_000])
    for read in (lambda: load(cut), lambda: decode_to_pcm(cut, tmp_path / "decoded.f32")):
        with pytest.raises(InputError, match="cut.flac.*cannot be decoded"):
            read()


def test_flac_that_leaves_its_length_open_goes_through_ffmpeg(tmp_path):
    """A streaming encoder writes 0 total samples in STREAMINFO ("unknown"); libsndfile then
    reports an endless stream and fails to read it, so FFmpeg reads it, to the same samples."""
    whole = tmp_path / "whole.flac"
    sf.write(whole, _voice_like(3.0), RATE, subtype="PCM_16")
    open_ended = bytearray(whole.read_bytes())
    open_ended[8 + 13] &= 0xF0  # the 36-bit sample count ends STREAMINFO's 18th byte
    open_ended[8 + 14: 8 + 18] = bytes(4)
    (tmp_path / "open.flac").write_bytes(open_ended)
    pcm, digest, info, decoder = decode_to_pcm(tmp_path / "open.flac", tmp_path / "decoded.f32")
    assert decoder == "FFmpeg (torchcodec)" and info.duration_seconds == 3.0
    assert np.array_equal(load(tmp_path / "open.flac").samples, load(whole).samples) and np.array_equal(pcm[:], load(whole).samples)


@pytest.mark.parametrize("suffix", ["m4a", "mp3", "ogg"])
def test_ffmpeg_chunks_are_exactly_one_whole_decode(tmp_path, suffix):
    """Chunked decoding (memory bounded on long files) gives the very samples of one decode of
    the whole stream: none repeated, lost or altered where chunks meet. (torchcodec's public
    range call restarts the decoder at each chunk: AAC's noise substitution then differs.)"""
    import torch
    from pyannote.audio.sample import SAMPLE_FILE  # real two-speaker speech, 30 s
    from torchcodec.decoders import AudioDecoder
    from torchcodec.encoders import AudioEncoder

    from forensic_s2f.audio.decode import iter_chunks

    speech = load(SAMPLE_FILE["audio"], 44_100).samples
    hiss = 0.01 * np.random.default_rng(0).standard_normal(len(speech)).astype(np.float32)
    path = tmp_path / f"interview.{suffix}"
    AudioEncoder(torch.from_numpy(np.stack([speech, speech + hiss])), sample_rate=44_100).to_file(str(path))
    whole = AudioDecoder(str(path)).get_all_samples().data.numpy()
    chunks = list(iter_chunks(path, chunk_seconds=2.3))
    assert len(chunks) >= 12 and all(chunk.shape[0] == 2 for chunk in chunks)
    assert np.array_equal(np.concatenate(chunks, axis=1), whole)


@pytest.mark.parametrize("suffix, rate, codec, media_type", [
    ("mp3", 44_100, "mp3", "audio/mpeg"), ("m4a", 16_000, "aac", "audio/mp4"), ("aac", 22_050, "aac", "audio/aac"),
    ("ogg", 16_000, "vorbis", "audio/ogg"), ("opus", 48_000, "opus", "audio/ogg"), ("mp4", 48_000, "aac", "video/mp4"),
    ("mov", 32_000, "aac", "video/quicktime"), ("webm", 48_000, "opus", "video/webm"), ("mka", 44_100, "vorbis", "video/x-matroska"),
    ("ac3", 48_000, "ac3", "application/octet-stream")])
def test_common_formats_decode_to_16k_mono(tmp_path, suffix, rate, codec, media_type):
    """Each format this FFmpeg can write (it has no AMR encoder): a 3 s 440 Hz tone comes back
    as 3 s of 16 kHz mono with that tone, what the original was is recorded, and chunked
    decoding gives one whole decode's samples. (A Matroska header that only estimates its
    duration is no reason to refuse the file.)"""
    import torch
    from torchcodec.decoders import AudioDecoder
    from torchcodec.encoders import AudioEncoder

    from forensic_s2f.audio.decode import iter_chunks, probe

    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate, dtype=np.float32)
    path = tmp_path / f"exhibit.{suffix}"
    AudioEncoder(torch.from_numpy(np.stack([tone, tone])), sample_rate=rate).to_file(str(path))
    info = probe(path)
    assert (info.codec, info.sample_rate, info.channels, info.media_type) == (codec, rate, 2, media_type)
    decoded = load(path)
    assert decoded.sample_rate == RATE and replace(decoded.info, duration_seconds=0.0) == replace(info, duration_seconds=0.0)
    assert decoded.info.duration_seconds == pytest.approx(info.duration_seconds, abs=1 / RATE)  # (counted at 16 kHz)
    assert abs(info.duration_seconds - 3.0) < 0.1
    spectrum = np.abs(np.fft.rfft(decoded.samples[: 2 * RATE]))
    assert np.argmax(spectrum) / 2.0 == pytest.approx(440, abs=1)
    whole = AudioDecoder(str(path)).get_all_samples().data.numpy()
    assert np.array_equal(np.concatenate(list(iter_chunks(path, chunk_seconds=0.5)), axis=1), whole)


def test_amr_decodes_to_16k_mono(tmp_path):
    """This FFmpeg has no AMR encoder, so the file is built by hand: the AMR-NB storage header
    and 150 frames of the 12.2 kbit/s mode (20 ms each) with random payload bits, which any
    AMR decoder must accept."""
    from forensic_s2f.audio.decode import iter_chunks, probe

    rng = np.random.default_rng(0)
    path = tmp_path / "voicemail.amr"
    path.write_bytes(b"#!AMR\n" + b"".join(b"\x3c" + rng.bytes(31) for _ in range(150)))
    info = probe(path)
    assert (info.media_type, info.codec, info.sample_rate, info.channels, info.duration_seconds) == ("audio/amr", "amr_nb", 8_000, 1, 3.0)
    assert len(load(path).samples) == 3 * RATE
    assert sum(chunk.shape[-1] for chunk in iter_chunks(path, chunk_seconds=0.5)) == 3 * 8_000


@pytest.mark.parametrize("rate", [8_000, 44_100, 48_000])
def test_resampling_keeps_time_across_chunks(tmp_path, rate):
    """A 1 kHz tone decoded from another rate in small chunks (FFmpeg at the file's own rate,
    then one resampling stream) is the ideal 16 kHz tone throughout: no shift, no click where
    chunks meet."""
    from forensic_s2f.audio.decode import iter_chunks
    from forensic_s2f.audio.resample import resampled

    seconds = 3.0
    path = tmp_path / "tone.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 1000 * np.arange(int(seconds * rate)) / rate), rate, subtype="FLOAT")
    chunks = (chunk[0] for chunk in iter_chunks(path, chunk_seconds=0.35))
    decoded = np.concatenate(list(resampled(chunks, rate, RATE)))
    ideal = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(int(seconds * RATE)) / RATE)
    assert len(decoded) == len(ideal)
    inner = slice(RATE // 10, -RATE // 10)  # away from the file's own start and end
    assert np.abs(decoded[inner] - ideal[inner]).max() < 1e-3
    pieces = [decoded[:1], decoded[1:7_777], decoded[7_777:7_777], decoded[7_777:]]
    assert np.array_equal(np.concatenate(list(resampled(iter(pieces), RATE, 8_000))),
                          np.concatenate(list(resampled(iter([decoded]), RATE, 8_000))))


def test_stages_give_the_same_result_from_a_file_as_from_an_array(tmp_path):
    from pyannote.audio.sample import SAMPLE_FILE  # real two-speaker speech, 30 s

    samples = np.tile(load(SAMPLE_FILE["audio"]).samples, 2)
    pcm = _pcm(tmp_path, samples)
    vad = SileroVAD(block_seconds=7.0, stream_seconds=20.0, streams_per_batch=2)
    regions = vad(samples, RATE)
    assert regions and vad(pcm, RATE) == regions
    assert measure_quality(pcm, RATE, regions) == measure_quality(samples, RATE, regions)
    denoiser = SpectralGateDenoiser(chunk_seconds=20.0)
    assert np.array_equal(np.concatenate(list(denoiser.stream(pcm, RATE))), denoiser(samples, RATE))
    embedder = WindowEmbedder()
    from_file, from_array = embedder(pcm, RATE, regions[:5]), embedder(samples, RATE, regions[:5])
    assert np.array_equal(from_file.starts, from_array.starts)
    assert np.allclose(from_file.vectors, from_array.vectors, atol=1e-6)


def _peak_traced_mib(pcm: PcmFile) -> float:
    """Peak Python-traced memory (numpy buffers included) of quality and denoising over `pcm`."""
    regions = [(s, s + 1.5) for s in np.arange(0.0, pcm.duration_seconds, 2.0)]
    tracemalloc.start()
    try:
        measure_quality(pcm, RATE, regions)
        for _ in SpectralGateDenoiser().stream(pcm, RATE):
            pass
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_quality_and_denoising_memory_does_not_grow_with_duration(tmp_path):
    peaks = {}
    for minutes in (6, 18):
        with PcmWriter(tmp_path / f"{minutes}.f32", RATE) as writer:
            for minute in range(minutes):
                writer.write(_voice_like(60.0, seed=minute))
            pcm, _ = writer.close()
        peaks[minutes] = _peak_traced_mib(pcm)
    # 12 more minutes are 44 MiB more audio; the working set may grow by a few small per-frame arrays
    assert peaks[18] < peaks[6] + 4, peaks


def _float_wav(path, data: np.ndarray) -> str:
    sf.write(path, data, RATE, subtype="FLOAT")
    return str(path)


def test_samples_that_are_not_numbers_become_silence_with_a_warning(tmp_path):
    """A float WAV may hold NaN or infinities; they reached the quality measures (which failed)
    and the voice model. They are set to 0 and counted, by both decoders."""
    from forensic_s2f.audio.decode import probe

    voice = _voice_like(4.0)
    bad = voice.copy()
    bad[1000:1007], bad[20_000:20_003] = np.nan, [np.inf, -np.inf, np.inf]
    path = _float_wav(tmp_path / "nan.wav", bad)
    expected = voice.copy()
    expected[1000:1007], expected[20_000:20_003] = 0.0, 0.0
    decoded = load(path)
    pcm, _, info, _ = decode_to_pcm(path, tmp_path / "decoded.f32")
    assert np.array_equal(decoded.samples, expected) and np.array_equal(pcm[:], expected)
    warning = "10 decoded samples were not numbers (NaN or infinite) and were set to 0 (silence)"
    assert decoded.info.warnings == info.warnings == probe(path).warnings == (warning,)
    assert load(_float_wav(tmp_path / "clean.wav", voice)).info.warnings == ()


def test_channels_that_cancel_in_the_mixdown_and_samples_far_beyond_full_scale_are_warned_of(tmp_path):
    voice = _voice_like(4.0)
    antiphase = load(_float_wav(tmp_path / "antiphase.wav", np.stack([voice, -voice], axis=1)))
    assert not antiphase.samples.any()
    (warning,) = antiphase.info.warnings
    assert warning.startswith("the 2 channels cancel when averaged to mono (the mixdown is 99 dB quieter")
    other_voice = _voice_like(4.0, seed=1)[::-1].copy()
    (different,) = load(_float_wav(tmp_path / "stereo.wav", np.stack([voice, other_voice], axis=1))).info.warnings
    assert different.startswith("the 2 channels hold different audio")  # (they do not cancel)
    assert load(_float_wav(tmp_path / "silent.wav", np.zeros((RATE, 2), np.float32))).info.warnings == ()
    one_of_sixteen = np.zeros((len(voice), 16), np.float32)
    one_of_sixteen[:, 3] = voice  # (averaging 16 channels costs 12 dB here without any cancelling)
    silent = ", ".join(str(c) for c in range(1, 17) if c != 4)
    assert load(_float_wav(tmp_path / "sixteen.wav", one_of_sixteen)).info.warnings == (
        f"channels {silent} of 16 hold no sound (under -80 dBFS): only the others are heard, averaged with the silence",)
    (loud,) = load(_float_wav(tmp_path / "loud.wav", voice * 1000)).info.warnings
    assert loud.startswith(f"samples reach +{20 * np.log10(np.abs(voice).max() * 1000):.0f} dB relative to full scale")


def test_wav_layout_bytes_the_header_does_not_account_for_are_warned_of(tmp_path):
    """A data chunk that states less than follows (14 s of a 20 s recording unread) is warned
    of; chunks after the data (LIST), a streamed WAV's open sizes and a pad byte are not."""
    import struct

    from forensic_s2f.audio.decode import probe

    path = tmp_path / "voice.wav"
    sf.write(path, _voice_like(20.0), RATE, subtype="PCM_16")
    whole = path.read_bytes()
    data_at = whole.index(b"data")
    understated = tmp_path / "understated.wav"
    understated.write_bytes(whole[: data_at + 4] + struct.pack("<I", 6 * RATE * 2) + whole[data_at + 8:])
    info = probe(understated)
    assert info.duration_seconds == 6.0 and info.warnings == (
        f"{14 * RATE * 2} bytes after the audio data that the WAV header states are no part of the file's layout "
        "(the header may understate the audio): only the stated audio is analysed",)
    tagged = tmp_path / "tagged.wav"
    listing = b"LIST" + struct.pack("<I", 13) + b"INFOISFT\x05\x00\x00\x00fs2f\x00" + b"\x00"  # (odd size: pad byte)
    tagged.write_bytes(whole[:4] + struct.pack("<I", len(whole) - 8 + len(listing)) + whole[8:] + listing)
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(whole[:4] + b"\xff\xff\xff\xff" + whole[8: data_at + 4] + b"\xff\xff\xff\xff" + whole[data_at + 8:])
    for fine in (path, tagged, streamed):
        assert probe(fine).warnings == () and load(fine).info.warnings == (), fine
        assert probe(fine).duration_seconds == 20.0


def _ape_tag(value: bytes, header: bool = True) -> bytes:
    """An APE tag (one item, footer, and a header for APEv2) as taggers write it after the audio."""
    import struct

    item = struct.pack("<II", len(value), 0) + b"Title\x00" + value
    def frame(flags: int) -> bytes:
        return b"APETAGEX" + struct.pack("<IIII", 2000 if header else 1000, len(item) + 32, 1, flags) + bytes(8)
    return (frame(0xA0000000) if header else b"") + item + frame(0x80000000 if header else 0)


def test_tags_of_other_formats_around_a_flac_stream_are_left_out_and_named(tmp_path):
    """Taggers add ID3v2 before, APE, ID3v1 and ID3v2.4 after a FLAC stream. FFmpeg refused such a
    file as damaged ("Invalid data found"), and an ID3v2 tag made it pass for MP3. The stream
    between them decodes to the plain file's very samples, with a warning naming each tag;
    random bytes at the end, a "tag" cut from the stream's own bytes, and an APE footer whose
    stated items are no items are still refused."""
    import struct

    from forensic_s2f.audio.container import sniff_media_type
    from forensic_s2f.audio.decode import probe
    from forensic_s2f.errors import InputError

    plain = tmp_path / "plain.flac"
    sf.write(plain, _voice_like(3.0), RATE, subtype="PCM_16")
    stream = plain.read_bytes()
    id3v1 = b"TAG" + b"title".ljust(30, b"\0") + bytes(60) + b"2020" + bytes(30) + b"\x0c"
    id3v2_body = b"TIT2" + (6).to_bytes(4, "big") + b"\0\0\0title"
    id3v2 = b"ID3\x03\x00\x00" + len(id3v2_body).to_bytes(4, "big") + id3v2_body
    appended = b"ID3\x04\x00\x10" + len(id3v2_body).to_bytes(4, "big") + id3v2_body  # (ID3v2.4, a footer flagged)
    appended += b"3DI" + appended[3:10]
    expected = load(plain)
    cases = {
        "v24_after.flac": (stream + appended, f"an ID3v2 tag ({len(appended)} bytes, after the stream)"),
        "v24_v1.flac": (stream + appended + id3v1, f"an ID3v2 tag ({len(appended)} bytes, after the stream) and an "
                                                     "ID3v1 tag (128 bytes, after the stream)"),
        "v1.flac": (stream + id3v1, "an ID3v1 tag (128 bytes, after the stream)"),
        "ape_v1.flac": (stream + _ape_tag(b"x") + id3v1,
                        "an APE tag (79 bytes, after the stream) and an ID3v1 tag (128 bytes, after the stream)"),
        "v1_ape1.flac": (stream + id3v1 + _ape_tag(b"x", header=False),
                         "an ID3v1 tag (128 bytes, after the stream) and an APE tag (47 bytes, after the stream)"),
        "v2.flac": (id3v2 + stream, f"ID3v2 tags ({len(id3v2)} bytes, before the stream)"),
        "v2v2.flac": (id3v2 + id3v2 + stream, f"ID3v2 tags ({2 * len(id3v2)} bytes, before the stream)"),
    }
    for name, (content, named) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        warning = (f"the file holds {named} besides its FLAC stream (written by a tagging program; no part of the FLAC "
                   "format): not audio, left out of decoding; the file's SHA-256 covers every byte")
        assert sniff_media_type(path) == "audio/flac", name
        info = probe(path)
        assert info.warnings == (warning,) and info.media_type == "audio/flac" and info.duration_seconds == 3.0, name
        pcm, digest, decoded_info, decoder = decode_to_pcm(path, tmp_path / f"{name}.f32")
        assert decoder == "libsndfile" and decoded_info.warnings == (warning,)
        assert np.array_equal(pcm[:], expected.samples) and np.array_equal(load(path).samples, expected.samples), name
    junk = tmp_path / "junk.flac"
    junk.write_bytes(stream + np.random.default_rng(0).bytes(128))
    overwritten = tmp_path / "overwritten.flac"  # the last 128 bytes of the stream itself look like a tag
    overwritten.write_bytes(stream[:-128] + id3v1)
    # an APE footer claiming the stream's second half, in a FLAC that states no sample count
    open_ended = bytearray(stream)
    open_ended[8 + 13] &= 0xF0
    open_ended[8 + 14: 8 + 18] = bytes(4)
    hiding = tmp_path / "hiding.flac"
    half = len(stream) // 2
    hiding.write_bytes(bytes(open_ended) + b"APETAGEX" + struct.pack("<IIII", 2000, half + 32, 1, 0) + bytes(8))
    # an ID3v2.4 footer whose header is not where its size points
    misplaced = tmp_path / "misplaced.flac"
    misplaced.write_bytes(stream + appended[:-10] + b"3DI\x04\x00\x10" + (len(id3v2_body) + 3).to_bytes(4, "big"))
    for damaged in (junk, overwritten, hiding, misplaced):
        with pytest.raises(InputError, match=f"{damaged.name}: cannot be decoded as audio"):
            probe(damaged)
    with pytest.raises(InputError, match="overwritten.flac: cannot be decoded as audio"):
        load(overwritten)


def test_ffmpeg_never_takes_a_file_name_for_a_protocol(tmp_path, monkeypatch):
    """`concat:a.wav` (or `pipe:0`) given as a relative name made FFmpeg read a.wav (or standard
    input) while the file itself was hashed."""
    from forensic_s2f.audio.decode import probe

    monkeypatch.chdir(tmp_path)
    sf.write(tmp_path / "short.ogg", _voice_like(1.0), RATE, format="OGG", subtype="VORBIS")
    sf.write(tmp_path / "concat:short.ogg", _voice_like(4.0), RATE, format="OGG", subtype="VORBIS")
    assert probe(Path("concat:short.ogg")).duration_seconds == pytest.approx(4.0, abs=0.01)


def test_without_dc_leaves_a_bang_out_of_the_mean():
    """A knock near full scale in quiet speech moved the mean of its region by 7e-5 of full scale,
    which moved every speaker embedding there; its 10 ms blocks are now left out of the mean.
    Without a bang the mean is the plain one, bit for bit."""
    from forensic_s2f.audio.level import without_dc

    rate = 16_000
    rng = np.random.default_rng(1)
    speech = (rng.standard_normal(10 * rate) * 0.002 * (1 + np.sin(np.arange(10 * rate) / rate * 20))).astype(np.float32)
    speech += np.float32(0.001)  # a DC offset
    plain = without_dc(speech, rate)
    assert np.array_equal(plain, speech - np.float32(speech.mean(dtype=np.float64)))
    knocked = speech.copy()
    knocked[5 * rate: 5 * rate + rate // 5] += np.float32(0.9) * np.exp(-np.arange(rate // 5) / 800).astype(np.float32)
    shift = abs(float(knocked.mean()) - float(speech.mean()))  # what the plain mean moved by
    assert shift > 1e-3
    outside = np.r_[0: 5 * rate, 6 * rate: 10 * rate]
    assert np.abs(without_dc(knocked, rate)[outside] - plain[outside]).max() < 0.05 * shift  # (its faint tail stays)


def test_sparse_speech_in_one_region_is_never_taken_for_bangs():
    """Speech that fills less than a quarter of every second sets no sustained level: its noise
    floor did, every speech block counted as a bang, and one region drawn round 40 s of such
    audio was levelled by its noise (+59.9 dB instead of +9.0 dB)."""
    from forensic_s2f.audio.ge2e import speech_gain

    rate = 16_000
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(40 * rate) * 10 ** (-90 / 20)).astype(np.float32)
    for second in range(40):
        audio[second * rate: second * rate + rate // 5] += (rng.standard_normal(rate // 5) * 0.03).astype(np.float32)
    plain = 10 ** (-30 / 20) / np.sqrt(np.mean(audio.astype(np.float64) ** 2) - np.mean(audio, dtype=np.float64) ** 2)
    assert speech_gain(audio, rate, [(0.0, 40.0)], -30.0, raise_only=False) == pytest.approx(plain, rel=1e-9)
    assert speech_gain(audio, float(rate), [(0.0, 3.0)], -30.0, raise_only=False) > 1.0  # a float rate is a rate


@pytest.mark.parametrize("fmt, subtype", [("WAV", "IMA_ADPCM"), ("WAV", "MS_ADPCM"), ("W64", "IMA_ADPCM")])
def test_adpcm_is_decoded_whole(tmp_path, fmt, subtype):
    """IMA and MS ADPCM (dictaphones, CCTV and phone recorders) stamp only their first frame: the
    frames without a timestamp were dropped, and 40 s of evidence was ingested as 5 s, silently."""
    from forensic_s2f.audio.decode import iter_chunks, probe

    t = np.arange(16_000 * 12) / 16_000
    path = tmp_path / f"dictaphone.{fmt.lower()}"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 300 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t)), 16_000,
             format=fmt, subtype=subtype)
    reference, _ = sf.read(path, dtype="float32")  # (libsndfile's own ADPCM decoder)
    decoded = np.concatenate(list(iter_chunks(path)), axis=1)[0]
    assert len(decoded) == len(reference) and np.abs(decoded - reference).max() < 0.003
    assert probe(path).duration_seconds == pytest.approx(len(reference) / 16_000)


def test_a_containers_other_audio_streams_and_a_late_start_are_warned_of(tmp_path):
    """Only one audio stream of a file is analysed (FFmpeg's default): the others went unsaid, and
    a stream starting 3 s after the file's other streams gave times 3 s early on its timeline."""
    from conftest import write_mka
    from forensic_s2f.audio.decode import probe

    t = np.arange(16_000 * 3) / 16_000
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    two = probe(write_mka(tmp_path / "two.mka", [tone, np.zeros_like(tone)]))
    assert two.duration_seconds == pytest.approx(3.0)
    assert two.warnings == ("the file holds 2 audio streams: only stream 0 (FFmpeg's default choice) is analysed, "
                            "not stream 1",)
    late = probe(write_mka(tmp_path / "late.mka", [tone, np.zeros_like(tone)], track_delays_ms=(3000, 0)))
    assert late.warnings[1] == ("the audio stream starts 3.000 s after the file's other streams: times in this "
                                "analysis count from its first sample (add 3.000 s for the file's timeline, as a "
                                "player shows it)")
    assert probe(write_mka(tmp_path / "one.mka", [tone])).warnings == ()
    # a file whose only stream starts at 10 s (MPEG-TS timestamps start anywhere): players count from it
    assert probe(write_mka(tmp_path / "ten.mka", [tone], first_ms=10_000)).warnings == ()


def test_a_pause_in_a_streams_timestamps_is_warned_of(tmp_path):
    """A recorder's pause (the timestamps jump 5 s) was decoded end to end without a word, so
    every time after it was 5 s earlier than a player shows."""
    from conftest import write_mka
    from forensic_s2f.audio.decode import probe

    t = np.arange(16_000 * 4) / 16_000
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    info = probe(write_mka(tmp_path / "paused.mka", [tone], pause=(2, 5000)))
    assert info.duration_seconds == pytest.approx(4.0) and info.warnings == (
        "the stream's timestamps jump 1 time by more than 1 s (the longest by 5.000 s, 2.000 s into the audio; "
        "5.000 s in all), as where a recorder paused: the audio is analysed end to end, so times after a jump are "
        "that much earlier than a player shows",)
    assert load(tmp_path / "paused.mka").info == info
    assert probe(write_mka(tmp_path / "short-pause.mka", [tone], pause=(2, 500))).warnings == ()


def test_intake_reads_a_wav_file_with_the_analysis_decoder(tmp_path):
    """A WAVE_FORMAT_EXTENSIBLE file of 24 valid bits in 32-bit containers: intake read it with
    FFmpeg, which took it for 24-bit float (codec pcm_f24le, '... samples were not numbers' and
    '+632 dB' warnings), while the analysis's libsndfile read it exactly."""
    from forensic_s2f.audio.decode import probe

    t = np.arange(16_000 * 3) / 16_000
    path = tmp_path / "wavex_24in32.wav"
    sf.write(path, (np.round(0.3 * np.sin(2 * np.pi * 300 * t) * 2**23).astype(np.int32) << 8), 16_000,
             format="WAVEX", subtype="PCM_32")
    header = bytearray(path.read_bytes())
    valid_bits = header.index(b"fmt ") + 8 + 18  # (WAVE_FORMAT_EXTENSIBLE's wValidBitsPerSample)
    header[valid_bits: valid_bits + 2] = (24).to_bytes(2, "little")
    path.write_bytes(bytes(header))
    info = probe(path)
    assert (info.codec, info.duration_seconds, info.warnings) == ("pcm_s32le", 3.0, ())
    assert load(path).info == info


def test_a_second_data_chunk_in_a_wav_file_is_warned_of(tmp_path):
    """FFmpeg decodes the last data chunk only (libsndfile refuses the file): the audio of the
    others went unsaid."""
    from forensic_s2f.audio.decode import probe

    path = tmp_path / "two-data.wav"
    sf.write(path, np.full(16_000, 0.5), 16_000, subtype="PCM_16")
    second = b"data" + (64_000).to_bytes(4, "little") + (np.full(32_000, 0.25) * 32767).astype("<i2").tobytes()
    content = path.read_bytes() + second
    path.write_bytes(content[:4] + (len(content) - 8).to_bytes(4, "little") + content[8:])
    info = probe(path)
    assert info.duration_seconds == 2.0 and info.warnings == (
        "2 data chunks where the WAV format has one: only the last is analysed, not the 32000 bytes of the earlier, "
        "1.0 s at the file's byte rate",)
    assert np.allclose(load(path).samples, 0.25, atol=1e-4)


def test_channels_that_hold_different_audio_are_warned_of(tmp_path):
    """A call recorder's file, one party per channel, was averaged to mono without a word; one
    sound picked up by two microphones a few milliseconds apart is not 'different audio'."""
    from forensic_s2f.audio.decode import probe

    rng = np.random.default_rng(3)
    rate, seconds = 16_000, 8
    t = np.arange(rate * seconds) / rate
    syllables = (np.sin(2 * np.pi * 3 * t) > 0) * rng.standard_normal(t.size) * 0.2  # bursts of noise
    turn = (t % 4) < 2  # two parties taking turns of 2 s
    call = tmp_path / "call.wav"
    sf.write(call, np.stack([syllables * turn, syllables * ~turn], axis=1) + 0.001 * rng.standard_normal((t.size, 2)), rate)
    warnings = probe(call).warnings
    assert len(warnings) == 1 and warnings[0].startswith("the 2 channels hold different audio (the level of one "
                                                         "against another varies by ")
    for delay in (0, 16, 48):  # 0, 1 and 3 ms between two microphones
        pair = tmp_path / f"pair-{delay}.wav"
        sf.write(pair, np.stack([syllables, 0.7 * np.roll(syllables, delay)], axis=1)
                 + 0.001 * rng.standard_normal((t.size, 2)), rate)
        assert probe(pair).warnings == (), delay
    together = tmp_path / "together.wav"  # two parties speaking at once, their channels silent before and after
    lead = np.zeros(rate * 120)  # (shared silence diluted the level difference over all frames: no warning)
    first, second = syllables, (np.sin(2 * np.pi * 2.3 * t) > 0) * rng.standard_normal(t.size) * 0.2  # (own rhythm)
    sf.write(together, np.stack([np.concatenate([lead, first, lead]), np.concatenate([lead, second, lead])], axis=1)
             + 0.001 * rng.standard_normal((t.size + 2 * len(lead), 2)), rate)
    (warning,) = probe(together).warnings  # (the envelopes' correlation read 0.5-0.8 for such files: no warning)
    assert warning.startswith("the 2 channels hold different audio"), warning
    right_silent = tmp_path / "right-silent.wav"
    sf.write(right_silent, np.stack([syllables, np.zeros(t.size)], axis=1), rate)
    assert probe(right_silent).warnings == ("channel 2 of 2 holds no sound (under -80 dBFS): only the others are "
                                            "heard, averaged with the silence",)
    steady = tmp_path / "steady.wav"  # (a tone whose period divides the envelope frame: no loudness change at all)
    sf.write(steady, np.stack([np.sin(2 * np.pi * 1000 * t)] * 2, axis=1) * 0.3, rate, subtype="FLOAT")
    assert probe(steady).warnings == ()


def test_a_file_whose_name_says_another_format_is_warned_of(tmp_path):
    """An MP3 named .wav was recorded as audio/mpeg and nothing said the name did not match: a
    renamed file is something an examiner should know of (a format review)."""
    import shutil

    from forensic_s2f.audio.decode import name_warnings, probe

    wav = tmp_path / "call.wav"
    sf.write(wav, _voice_like(2.0), RATE, subtype="PCM_16")
    assert probe(wav).warnings == ()
    renamed = shutil.copy(wav, tmp_path / "call.mp3")
    assert probe(renamed).warnings == ("the file's name ends in '.mp3', but its bytes are audio/wav: it may have been "
                                       "renamed",)
    assert name_warnings("CALL.WAV", "audio/wav") == name_warnings("notes.txt", "audio/wav") == ()
    assert name_warnings("call.m4a", "application/octet-stream") == ()  # (bytes that tell nothing are not judged)
    assert probe(shutil.copy(wav, tmp_path / "evidence-1")).warnings == ()  # (analysis decodes such a copy; it names
    # the evidence's original file name itself)


def test_integer_samples_too_quiet_to_hold_speech_well_are_warned_of(tmp_path):
    """16-bit samples peaking at -60 dBFS (6 bits of levels) joined two of four speakers, with no
    word of why (a format review), in WAV or FLAC alike; 24-bit samples at that level, 16-bit ones
    at -54 dBFS (7 bits, measured fine) and 8-bit ones near full scale are not warned of."""
    from forensic_s2f.audio.decode import probe

    voice = _voice_like(2.0)
    voice = voice / np.abs(voice).max()
    for suffix, subtype, db, warned in (("wav", "PCM_16", -60, True), ("flac", "PCM_16", -60, True),
                                        ("wav", "PCM_24", -60, False), ("wav", "PCM_16", -54, False),
                                        ("wav", "FLOAT", -60, False), ("wav", "PCM_U8", -3, False),
                                        ("wav", "PCM_U8", -9, True)):
        path = tmp_path / f"{subtype}{db}.{suffix}"
        sf.write(path, voice * 10 ** (db / 20), RATE, subtype=subtype)
        warnings = probe(path).warnings
        assert bool(warnings) == warned, (suffix, subtype, db, warnings)
        if warned and subtype == "PCM_16":
            assert warnings[0].startswith("very low level for 16-bit samples: the loudest reaches -60 dBFS, so under 7 "
                                          "of their 16 bits are used (6.0)"), warnings


def test_adts_aac_behind_an_id3_tag_is_known_for_what_it_is(tmp_path):
    """HLS and stream captures put an ID3 tag before ADTS AAC: sniffed as MP3, a .aac file was
    recorded as audio/mpeg and called possibly renamed (a code review)."""
    import torch
    from torchcodec.encoders import AudioEncoder

    from forensic_s2f.audio.decode import probe

    plain = tmp_path / "plain.aac"
    AudioEncoder(torch.from_numpy(_voice_like(2.0)[None]), sample_rate=RATE).to_file(str(plain))
    tagged = tmp_path / "tagged.aac"
    tagged.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + plain.read_bytes())
    info = probe(tagged)
    assert (info.media_type, info.codec) == ("audio/aac", "aac") and info.warnings == ()
