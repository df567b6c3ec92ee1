"""`fs2f case analyze`: run the stages on each evidence file and record everything.

Each stage runs as an activity (parameters, software and model versions, input and
output SHA-256, times, examiner) with custody events at start and end; derived files
are vault artifacts. Stages exchange plain data only; the store is touched here, between
stages, never inside them. A run that is killed stays 'running' (interrupted) and the
store stays consistent: every write is one transaction.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from forensic_s2f.audio.decode import TARGET_SAMPLE_RATE
from forensic_s2f.audio.pcm import PcmWriter, Samples, pcm_sha256
from forensic_s2f.errors import (Fs2fError, InputError, note_failed, note_recorded, raise_lost_stop, stop_received,
                                 stops_held)
from forensic_s2f.provenance import software_versions
from forensic_s2f.store.case_store import CaseStore
from forensic_s2f.store.custody import canonical_json
from forensic_s2f.store.models import Evidence
from forensic_s2f.store.runs import EvidenceResult, SpeakerResult

if TYPE_CHECKING:
    from forensic_s2f.audio.quality import QualityReport
    from forensic_s2f.diarize.annotation import Diarization

StageCallback = Callable[[str], None]

MIN_SPEAKER_SPEECH_SECONDS = 1.0
# The model was validated on 6 s clips and gains nothing measurable beyond 3 s of speech
# (docs/model-card.md); a speaker's longest turns up to this much speech are used.
MAX_SPEAKER_SPEECH_SECONDS = 60.0
# Measured (benchmarks/diarization.py, 20 conversations per condition, voice activity of the
# original audio as here): DER diarizing the original vs the denoised audio was 7.15 vs 7.14 %
# clean, 10.05 vs 10.35 % pink 10 dB, 13.08 vs 15.48 % cafe 5 dB and 10.62 vs 10.84 % telephone:
# no gain from denoising, so the diarizer hears the original.
# Measured (benchmarks/denoise_choice.py, 120 clips): gender accuracy on original vs denoised
# audio was 97.5 vs 96.7 % clean, 96.7 vs 96.7 % pink 10 dB, 96.7 vs 97.5 % cafe 5 dB and
# 95.8 vs 95.0 % telephone: no gain from denoising, so the face model hears the original.
# Disk use per second of evidence: the decoded audio as raw float32 in the scratch folder and,
# when denoising, the denoised audio as raw float32 too (both removed after each file) and as a
# 16-bit FLAC artifact in the vault (kept; at most 2 bytes a sample). Plus a private copy of the
# file being decoded (removed with the scratch folder) and room for the rest.
RAW_BYTES_PER_SECOND = TARGET_SAMPLE_RATE * 4
FLAC_BYTES_PER_SECOND = TARGET_SAMPLE_RATE * 2
SPARE_BYTES = 100 * 2**20


@dataclass(frozen=True)
class AnalysisOptions:
    """The run's recorded choices. `diarize_on` / `predict_on`: 'original' or 'denoised' audio
    (the denoised audio is always kept as an artifact when `denoise`)."""

    denoise: bool = True
    diarize_on: str = "original"
    predict_on: str = "original"
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    def validate(self) -> None:
        for name in ("diarize_on", "predict_on"):
            if getattr(self, name) not in ("original", "denoised"):
                raise Fs2fError(f"{name} must be 'original' or 'denoised', got {getattr(self, name)!r}")
        for name in ("num_speakers", "min_speakers", "max_speakers"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= 50:
                raise Fs2fError(f"--{name.replace('_', '-')} must be between 1 and 50, got {value}")
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise Fs2fError("--min-speakers is larger than --max-speakers")
        if self.num_speakers and (self.min_speakers or self.max_speakers):
            raise Fs2fError("give --num-speakers or --min/--max-speakers, not both")

    def count_warnings(self, found: int, free: int | None = None) -> list[str]:
        """A warning when the diarization found a speaker count outside what was asked for
        (voices with too little speech for a cluster of their own are folded into others), and
        one when the limits asked for changed the count: `free` is the count the clustering
        finds without them."""
        low = self.num_speakers or self.min_speakers
        high = self.num_speakers or self.max_speakers
        asked = (f"{low}" if low is not None and low == high else
                 f"at least {low}" if high is None else f"at most {high}" if low is None else f"{low} to {high}")
        if found == 0:
            return []
        if (low is not None and found < low) or (high is not None and found > high):
            why = ("the others had too little speech to be told apart" if low is not None and found < low else
                   "voices the clustering could not join were kept apart")
            return [f"{asked} speakers were asked for, {found} were found: {why}"]
        if free is not None and free != found:
            what = ("voices it would have kept apart may be joined in one speaker" if free > found else
                    "one voice may be split into several speakers")
            noun = "speaker" if asked.split()[-1] == "1" else "speakers"
            setting = "the count the examiner fixed" if low == high else "the examiner's limit"
            return [f"{setting} ({asked} {noun}) gave {found}; counted freely, the clustering finds {free}: {what}"]
        return []


LOW_SNR_PREFIX = "low signal-to-noise ratio"  # (audio.quality's wording)
RECORDING_SNR_PREFIX = "the recording's signal-to-noise ratio"


def recording_snr_warnings(quality: QualityReport) -> list[str]:
    """The recording's low signal-to-noise ratio, for each of its speakers' estimates. A speaker's
    own estimate is measured on its turns alone (no pauses to measure the noise in), and read
    13 dB on a recording mixed at 5 dB with cafe noise, so
    the recording's figure is passed on (`model predict` on the whole file warns of it)."""
    from forensic_s2f.s2f.checks import LOW_SNR_DB

    if quality.snr_db is None or quality.snr_db >= LOW_SNR_DB:
        return []
    return [f"{RECORDING_SNR_PREFIX} is low: estimated {quality.snr_db:.1f} dB (under {LOW_SNR_DB:.0f} dB, "
            f"{quality.snr_method}); this speaker's estimate is less reliable than the validation figures say"]


def speaker_warnings(inherited: list[str], predicted: list[str], estimated: bool) -> list[str]:
    """A speaker's warnings: the recording's (`inherited`), then its estimate's (`predicted`).
    The recording's low signal-to-noise ratio is left out where the speaker's own measure warns
    of it, and where no estimate was made (it speaks of the estimate's reliability)."""
    own_snr = any(warning.startswith(LOW_SNR_PREFIX) for warning in predicted)
    return [warning for warning in inherited
            if not ((own_snr or not estimated) and warning.startswith(RECORDING_SNR_PREFIX))] + predicted


SET_ASIDE_SHOWN = 4  # stretches named in the warning; the rest are counted
SET_ASIDE_WARNED_SECONDS = 0.5  # a speaker's share of set-aside speech it is warned of (s; less is left out unsaid)


def set_aside_owner(diarization: Diarization, start: float, end: float) -> str | None:
    """The speaker a set-aside stretch (s) was given to: the one holding most of it (a stretch is
    made of embedding windows, so it may run into a neighbour's turn); None if nobody holds it."""
    from pyannote.core import Segment

    crop = diarization.annotation.crop(Segment(start, end))
    return max(crop.labels(), key=crop.label_duration) if crop.labels() else None


def set_aside_warnings(diarization: Diarization) -> list[str]:
    """A warning naming the speech the clustering set aside (see `Diarization`) and the speaker
    each stretch was given to, so that the examiner can listen for a further person."""
    if not diarization.set_aside:
        return []
    named = []
    for start, end in diarization.set_aside[:SET_ASIDE_SHOWN]:
        named.append(f"{set_aside_owner(diarization, start, end) or 'no speaker'} at {start:.1f}-{end:.1f} s")
    more = len(diarization.set_aside) - len(named)
    seconds = sum(end - start for start, end in diarization.set_aside)
    stretches = f"{len(diarization.set_aside)} stretch{'es' if len(diarization.set_aside) > 1 else ''}"
    return [f"{seconds:.1f} s of speech in {stretches} matched no speaker well and was too little for a speaker of "
            f"its own; it was given to the nearest speaker ({'; '.join(named)}{f'; and {more} more' if more else ''}). "
            "Such speech is mostly a change of speaker or two voices at once, but may be a further person who spoke "
            "too little to be counted: listen to it"]


def write_flac(path: Path, blocks: Iterable[np.ndarray], sample_rate: int) -> Path:
    """16-bit FLAC of consecutive blocks of float samples in [-1, 1] (the audio is never whole
    in memory)."""
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, format="FLAC", subtype="PCM_16") as out:
        for block in blocks:
            out.write(np.clip(block, -1.0, 1.0))
    return path


class CaseAnalysis:
    """Runs the stages for a case and records the run; one instance per `analyze` call."""

    def __init__(self, store: CaseStore, case_id: str, examiner: str, options: AnalysisOptions,
                 on_stage: StageCallback | None = None, speaker_workers: int = 2) -> None:
        from forensic_s2f.audio.denoise import SpectralGateDenoiser
        from forensic_s2f.audio.vad import SileroVAD
        from forensic_s2f.diarize.pipeline import Diarizer
        from forensic_s2f.diarize.pyannote_pipeline import diarizer_from_environment
        from forensic_s2f.s2f.model import load_model

        options.validate()
        self.store, self.case_id, self.examiner, self.options = store, case_id, examiner, options
        self.on_stage = on_stage or (lambda stage: None)
        self.speaker_workers = speaker_workers  # speakers predicted at once (threads; results do not depend on it)
        self.software = software_versions()
        self.vad = SileroVAD()
        self.denoiser = SpectralGateDenoiser()
        self.diarizer = diarizer_from_environment() or Diarizer(vad=self.vad)  # $FS2F_PYANNOTE_PIPELINE wins
        self.model = load_model()

    def parameters(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "vad": self.vad.get_params(),
            "denoiser": self.denoiser.get_params() if self.options.denoise else None,
            "diarizer": self.diarizer.get_params(),
            "model": {"name": self.model.name, "sha256": self.model.sha256, "files": self.model.files},
            "speaker_workers": self.speaker_workers,
        }

    def disk_needed(self, evidence: list[Evidence]) -> int:
        """Bytes of free disk the run needs at most (see RAW_BYTES_PER_SECOND), with the private
        copy of the largest file that is decoded (`CaseStore.private_copy`)."""
        seconds = [e.duration_seconds for e in evidence] or [0.0]
        copies = 2 if self.options.denoise else 1
        kept = sum(seconds) * FLAC_BYTES_PER_SECOND if self.options.denoise else 0.0
        largest = max((e.size_bytes for e in evidence), default=0)
        return int(max(seconds) * RAW_BYTES_PER_SECOND * copies + kept) + largest + SPARE_BYTES

    def check_disk(self, evidence: list[Evidence]) -> None:
        """Refuse, before anything is recorded, a run the store's disk has no room for."""
        needed, free = self.disk_needed(evidence), self.store.free_bytes()
        if needed > free:
            longest = max(evidence, key=lambda e: e.duration_seconds)
            hours = longest.duration_seconds / 3600
            raise Fs2fError(
                f"evidence {longest.id} ({longest.original_filename!r}): analysing {hours:.1f} hours of audio "
                f"needs about {needed / 2**30:.1f} GiB of free disk where the case store is, "
                f"{free / 2**30:.1f} GiB is free")

    def run(self, evidence: list[Evidence]) -> int:
        """Analyse the evidence files in one new run, once each vault copy is re-hashed and found
        to hold the bytes recorded at intake; returns the run id."""
        self.check_disk(evidence)
        self.store.check_vault_copies(evidence)
        # A stop signal (Ctrl-C, SIGTERM) is held while the run's first record is written: arriving
        # between that record and `run` being set, it left the run 'running' for good.
        # The run's last record is written with stops held too: a stop while it waits for the store's
        # lock fails the run (it was left 'running'), one during the write ends the command after it.
        run, completed = None, False
        try:
            with stops_held():
                run = self.store.start_run(self.case_id, self.examiner, self.parameters(), [e.id for e in evidence])
            for item in evidence:
                self.store.record_result(run.id, self.examiner, self._evidence(run.id, item))
            with stops_held():
                self.store.finish_run(run.id, self.examiner, "completed")
                completed = True
                note_recorded(f"run {run.id} of case {self.case_id} was recorded as completed")
        except BaseException as error:  # recorded as failed (with the steps it cut short), then passed on unchanged
            if run is None or completed:
                raise
            self._record_failure(run.id, error)
            raise
        return run.id

    def _record_failure(self, run_id: int, error: BaseException) -> None:
        """Record the run, and the steps `error` cut short, as failed. Where that record cannot be
        written (the store stays locked by another command, the disk is full), the command still
        ends with `error`, and its line says the run stays listed as running or interrupted: the
        line named the store's refusal instead, and the error that failed the run was lost."""
        stop = stop_received()  # (an error after a stop is the stop's doing: see `stop_received`)
        reason = f"Terminated: {stop}" if stop is not None else f"{type(error).__name__}: {error}"
        try:
            for activity in self.store.activities(self.case_id, run_id):
                if activity.status == "running":
                    self.store.finish_activity(activity.id, self.examiner, outputs=[{"error": reason}], status="failed")
            self.store.finish_run(run_id, self.examiner, "failed", reason)
        except Exception as refusal:
            note_failed(f"run {run_id} of case {self.case_id} could not be recorded as failed ({refusal}); "
                        f"`fs2f case show {self.case_id}` lists it as running or interrupted")
            return
        note_failed(f"run {run_id} of case {self.case_id} was recorded as failed")

    def _activity(self, run_id: int, kind: str, parameters: dict[str, Any], inputs: list[dict[str, Any]],
                  model: bool = False) -> int:
        raise_lost_stop()
        self.on_stage(kind)
        return self.store.start_activity(
            self.case_id, kind, self.examiner, parameters, self.software, inputs,
            model_name=self.model.name if model else "", model_sha256=self.model.sha256 if model else "",
            run_id=run_id,
        ).id

    def _evidence(self, run_id: int, evidence: Evidence) -> EvidenceResult:
        """Decoded (and denoised) audio lives in raw files in the store's scratch folder, read a
        slice at a time, so memory does not grow with the recording's duration."""
        with self.store.scratch_folder() as scratch:
            return self._evidence_in(run_id, evidence, scratch)

    def _evidence_in(self, run_id: int, evidence: Evidence, scratch: Path) -> EvidenceResult:
        from forensic_s2f.audio.decode import decode_to_pcm, name_warnings
        from forensic_s2f.audio.resample import resampler_name
        from forensic_s2f.diarize.annotation import overlap_fraction
        from forensic_s2f.exports import rttm_text

        source = {"evidence_id": evidence.id, "sha256": evidence.sha256}
        parameters = {"sample_rate_hz": TARGET_SAMPLE_RATE, "mixdown": "mean of channels", "resampler": resampler_name()}
        activity = self._activity(run_id, "decode", parameters, [source])
        try:
            original = self.store.private_copy(evidence, scratch)  # (hashed: the bytes its SHA-256 states)
            samples, digest, info, decoder = decode_to_pcm(original, scratch / "decoded.f32", TARGET_SAMPLE_RATE)
        except InputError as error:  # named as the examiner knows the file, not by its vault path
            raise InputError(f"evidence {evidence.id} ({evidence.original_filename})", error.reason) from None
        rate = samples.sample_rate
        decoded = {"pcm_float32_sha256": digest, "duration_seconds": round(samples.duration_seconds, 3),
                   "original": asdict(info), "decoder": decoder}
        self.store.finish_activity(activity, self.examiner, outputs=[decoded])
        pcm = {"evidence_id": evidence.id, "pcm_float32_sha256": digest}

        regions, quality, denoised = self._vad_quality_denoise(run_id, evidence, samples, rate, pcm, scratch)

        diarize_denoised = self.options.diarize_on == "denoised" and denoised is not None
        predict_denoised = self.options.predict_on == "denoised" and denoised is not None
        parameters = {**self.diarizer.get_params(), "audio": "denoised" if diarize_denoised else "original",
                      "num_speakers": self.options.num_speakers, "min_speakers": self.options.min_speakers,
                      "max_speakers": self.options.max_speakers}
        activity = self._activity(run_id, "diarize", parameters, [pcm])
        diarization = self.diarizer.diarize(
            denoised if diarize_denoised else samples, rate, speech_regions=regions,
            num_speakers=self.options.num_speakers, min_speakers=self.options.min_speakers,
            max_speakers=self.options.max_speakers)
        annotation = diarization.annotation
        segments = [(label, seg.start, seg.end) for seg, _, label in annotation.itertracks(yield_label=True)]
        rttm = rttm_text(f"E{evidence.id}", segments)
        self.store.finish_activity(activity, self.examiner, outputs=[{"speakers": len(annotation.labels())}], artifacts=[
            ("rttm", f"E{evidence.id}.rttm", rttm.encode(), "text/plain")])

        evidence_quality = {**quality.to_dict(), "overlap_fraction": round(overlap_fraction(annotation), 4)}
        warnings = [*info.warnings, *name_warnings(evidence.original_filename, info.media_type), *quality.warnings(),
                    *self.options.count_warnings(len(annotation.labels()), diarization.free_count),
                    *set_aside_warnings(diarization)]
        if not annotation.labels() and "no speech detected" not in warnings:  # (one warning for one fact)
            warnings.append("no speech found: no speakers to analyse")
        predict_audio = denoised if predict_denoised else samples
        speakers = self._speakers(run_id, evidence, diarization, predict_audio, rate, regions,
                                  "denoised" if predict_denoised else "original", recording_snr_warnings(quality))
        return EvidenceResult(evidence.id, evidence_quality, warnings, segments, speakers)

    def _vad_quality_denoise(self, run_id: int, evidence: Evidence, samples: Samples, rate: int,
                             pcm: dict[str, Any], scratch: Path) -> tuple[list[tuple[float, float]], QualityReport, Samples | None]:
        """Speech regions, quality report and denoised audio (None without denoising). Denoising
        (numpy/scipy, which release the GIL) runs on a second thread while the VAD and quality
        stages run here; the store is written from this thread only."""
        from forensic_s2f.audio.quality import measure_quality

        stop = threading.Event()  # set when this thread fails or is interrupted: denoising stops too
        with ThreadPoolExecutor(1) as background:
            try:
                vad_activity = self._activity(run_id, "vad", self.vad.get_params(), [pcm])
                denoising = None
                if self.options.denoise:
                    denoise_activity = self._activity(run_id, "denoise", self.denoiser.get_params(), [pcm])
                    denoising = background.submit(self._denoise, samples, rate, scratch, f"E{evidence.id}-denoised.flac", stop)
                regions = self.vad(samples, rate)
                self.store.finish_activity(vad_activity, self.examiner, outputs=[{"speech_regions": len(regions)}], artifacts=[
                    ("speech-regions", f"E{evidence.id}-speech-regions.json", canonical_json(regions).encode(), "application/json")])

                activity = self._activity(run_id, "quality", {"speech_regions": "vad"}, [pcm])
                quality = measure_quality(samples, rate, regions)
                self.store.finish_activity(activity, self.examiner, outputs=[quality.to_dict()])

                if denoising is None:
                    return regions, quality, None
                denoised, denoised_sha256, flac = denoising.result()
                self.store.finish_activity(denoise_activity, self.examiner, outputs=[{"pcm_float32_sha256": denoised_sha256}],
                                           artifacts=[("denoised-audio", flac.name, flac, "audio/flac")])
                return regions, quality, denoised
            finally:
                stop.set()

    def _denoise(self, samples: Samples, rate: int, scratch: Path, flac_name: str,
                 stop: threading.Event) -> tuple[Samples, str, Path]:
        """The denoised audio as a raw scratch file, its SHA-256, and the FLAC artifact to store;
        abandoned (an exception nobody reads) as soon as `stop` is set."""
        def blocks() -> Iterator[np.ndarray]:
            for block in self.denoiser.stream(samples, rate):
                if stop.is_set():
                    raise RuntimeError("denoising abandoned: the analysis stopped")
                yield block

        with PcmWriter(scratch / "denoised.f32", rate) as writer:
            flac = write_flac(scratch / flac_name, writer.passing(blocks()), rate)
            denoised, digest = writer.close()
        return denoised, digest, flac

    def _speakers(self, run_id: int, evidence: Evidence, diarization: Diarization, samples: Samples, rate: int,
                  speech_regions: list[tuple[float, float]], audio_name: str,
                  inherited: list[str]) -> list[SpeakerResult]:
        """One speech2face activity per speaker, up to `speaker_workers` predicting at once (the
        store is written from this thread only, in label order). `inherited`: the recording's
        warnings every speaker's estimate carries too."""
        results: list[SpeakerResult] = []
        running: list[tuple[_SpeakerInput, int, Future]] = []
        with ThreadPoolExecutor(self.speaker_workers) as pool:
            for label in diarization.annotation.labels():
                job = _speaker_input(diarization, label, samples, rate, speech_regions, inherited)
                parameters = {"label": label, "regions": [[round(s, 3), round(e, 3)] for s, e in job.regions],
                              "overlap_used": job.overlap_used, "set_aside_used": job.set_aside_used, "audio": audio_name,
                              "speech_regions": "the evidence's voice activity inside these regions"}
                activity = self._activity(run_id, "speech2face", parameters,
                                          [{"evidence_id": evidence.id, "pcm_float32_sha256": pcm_sha256(job.speech)}], model=True)
                running.append((job, activity, pool.submit(self._predict, job, rate, f"E{evidence.id}-{label}-")))
                if len(running) == self.speaker_workers:
                    results.append(self._speaker_result(*running.pop(0)))
            results.extend(self._speaker_result(*item) for item in running)
        return results

    def _predict(self, job: _SpeakerInput, rate: int, prefix: str) -> tuple[dict[str, Any], dict[str, Any], list, list[str]]:
        """(prediction.json, input quality, artifacts, warnings) of one speaker; runs in a worker
        thread and touches no store."""
        from forensic_s2f.audio.quality import measure_quality
        from forensic_s2f.s2f.checks import SpeechError
        from forensic_s2f.s2f.predict import write_prediction

        try:
            result = self.model.predict(job.speech, rate, job.voiced)
        except SpeechError as error:
            quality = measure_quality(job.speech, rate, job.voiced).to_dict() if len(job.speech) else {}
            return {}, quality, [], [f"no voice-to-face estimate: {error}"]
        prediction, artifacts = result.to_json(), []
        with tempfile.TemporaryDirectory() as folder:
            for name, path in write_prediction(result, Path(folder)).items():
                media = "application/json" if path.suffix == ".json" else "image/png"
                artifacts.append((name, f"{prefix}{path.name}", path.read_bytes(), media))
        return prediction, result.input_quality, artifacts, list(prediction.get("warnings", []))

    def _speaker_result(self, job: _SpeakerInput, activity: int, future: Future) -> SpeakerResult:
        prediction, quality, artifacts, predicted_warnings = future.result()
        warnings = speaker_warnings(job.warnings, predicted_warnings, estimated=bool(prediction))
        rows = self.store.finish_activity(activity, self.examiner, outputs=[{"warnings": warnings}], artifacts=artifacts)
        return SpeakerResult(
            label=job.label, speech_seconds=round(job.total_seconds, 3), segment_count=job.segment_count,
            prediction=prediction, quality=quality, warnings=warnings,
            artifacts={row.kind: row.id for row in rows},
        )


@dataclass(frozen=True)
class _SpeakerInput:
    """One speaker's speech for the face model: the regions used (evidence time, seconds), their
    samples joined, the voice activity inside them (joined time) and what to warn about."""

    label: str
    total_seconds: float
    segment_count: int
    regions: list[tuple[float, float]]
    overlap_used: bool
    set_aside_used: bool
    speech: np.ndarray
    voiced: list[tuple[float, float]]
    warnings: list[str]


def _seconds(regions: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in regions)


def _speaker_input(diarization: Diarization, label: str, samples: Samples, rate: int,
                   speech_regions: list[tuple[float, float]], inherited: list[str]) -> _SpeakerInput:
    """The speaker's longest turns without overlap and without the speech the clustering set
    aside as unlike any voice and gave to it (`Diarization.set_aside`, `set_aside_owner`): its
    own voice, as sure as the diarization can make it. Where that leaves under 1 s, the
    set-aside speech is taken too, and where that still does, the overlapped turns as well. Its
    warnings begin with the recording's `inherited` ones."""
    from pyannote.core import Segment, Timeline

    from forensic_s2f.diarize.annotation import solo_regions

    annotation = diarization.annotation
    timeline = annotation.label_timeline(label)
    total = timeline.duration()
    solo = solo_regions(annotation, label)
    given = [Segment(start, end) for start, end in diarization.set_aside
             if set_aside_owner(diarization, start, end) == label]
    doubtful = Timeline(given).support().crop(timeline.support())
    sure = [(s.start, s.end) for s in Timeline([Segment(a, b) for a, b in solo]).extrude(doubtful) if s.duration > 0]
    use_overlap = bool(_seconds(solo) < MIN_SPEAKER_SPEECH_SECONDS <= total)
    if _seconds(sure) >= MIN_SPEAKER_SPEECH_SECONDS:
        chosen = sure
    else:
        chosen = [(s.start, s.end) for s in timeline] if use_overlap else solo
    set_aside_used = bool(chosen is not sure and doubtful)
    regions = longest_turns(chosen, MAX_SPEAKER_SPEECH_SECONDS)
    pieces = [samples[int(start * rate): int(end * rate)] for start, end in regions]
    speech = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    voiced = speech_in_pieces(regions, [len(piece) / rate for piece in pieces], speech_regions)
    warnings = list(inherited)
    if doubtful.duration() >= SET_ASIDE_WARNED_SECONDS:
        where = ", ".join(f"{s.start:.1f}-{s.end:.1f} s" for s in list(doubtful)[:SET_ASIDE_SHOWN])
        more = f" and {len(doubtful) - SET_ASIDE_SHOWN} more" if len(doubtful) > SET_ASIDE_SHOWN else ""
        use = ("it was used, since this speaker has too little other speech" if set_aside_used else
               "the estimate was made without it")
        warnings.append(f"{doubtful.duration():.1f} s of the speech given to this speaker (at {where}{more}) matched "
                        f"its voice poorly and may be another person's: {use}")
    if use_overlap:
        warnings.append(f"only {_seconds(solo):.1f} s of speech without overlap: overlapped speech used")
    return _SpeakerInput(label, total, len(timeline), regions, use_overlap, set_aside_used, speech, voiced, warnings)


def speech_in_pieces(pieces: list[tuple[float, float]], lengths: list[float],
                     speech_regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Where `speech_regions` (evidence time, seconds) fall inside `pieces` (evidence time), in the
    time of the pieces joined end to end, each piece lasting `lengths` seconds once cut out."""
    joined: list[tuple[float, float]] = []
    offset = 0.0
    for (start, end), length in zip(pieces, lengths):
        for a, b in speech_regions:
            low, high = max(a, start) - start, min(b, end, start + length) - start
            if high > low:
                joined.append((offset + low, offset + high))
        offset += length
    return joined


def longest_turns(regions: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The longest regions (seconds) until `seconds` of speech are gathered, in time order;
    the last one taken is shortened to fit."""
    chosen, total = [], 0.0
    for start, end in sorted(regions, key=lambda r: (-(r[1] - r[0]), r[0])):
        if total >= seconds:
            break
        end = min(end, start + seconds - total)
        chosen.append((start, end))
        total += end - start
    return sorted(chosen)

