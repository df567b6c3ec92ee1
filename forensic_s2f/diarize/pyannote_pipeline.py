"""Use a local pyannote.audio pipeline instead of fs2f's own diarizer.

If `$FS2F_PYANNOTE_PIPELINE` names a directory holding a pyannote pipeline (config.yaml plus
the local checkpoints it points at), `diarizer_from_environment()` loads it offline and returns
a step with the same call as `Diarizer`. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pyannote.core import Annotation

from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.diarize.annotation import Diarization, label_by_first_appearance
from forensic_s2f.provenance import package_version
from forensic_s2f.errors import Fs2fError
from forensic_s2f.store.vault import sha256_file

ENV_VAR = "FS2F_PYANNOTE_PIPELINE"
PIPELINE_PACKAGES = ("pyannote.audio", "pyannote.pipeline", "lightning", "asteroid-filterbanks")


def pipeline_files(directory: Path, config: Path) -> dict[str, str]:
    """SHA-256 of every file the pipeline may read: each file in its directory (keyed by its path
    there; hidden ones left out) and each file, or file in a folder, that config.yaml names by an absolute path outside
    it. Two pipelines with the same config.yaml and other checkpoints diarize differently."""
    import yaml

    def named(value: object) -> list[Path]:
        if isinstance(value, dict):
            return [path for item in value.values() for path in named(item)]
        if isinstance(value, list):
            return [path for item in value for path in named(item)]
        return [Path(value)] if isinstance(value, str) and value.startswith("/") and Path(value).exists() else []

    try:
        outside = [path for path in named(yaml.safe_load(config.read_text(encoding="utf-8")))
                   if not path.resolve().is_relative_to(directory)]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise Fs2fError(f"{ENV_VAR}={directory}: config.yaml cannot be read ({error})") from None
    files = {}
    for root in [directory, *outside]:
        found = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file() and
                                               not any(part.startswith(".") for part in p.relative_to(root).parts)]
        for path in sorted(found):  # (hidden files, a .git folder say, are no part of the pipeline)
            try:
                digest = sha256_file(path)
            except OSError as error:
                raise Fs2fError(f"{ENV_VAR}={directory}: {path} cannot be read ({error.strerror or error})") from None
            files[str(path.relative_to(directory)) if path.is_relative_to(directory) else str(path)] = digest
    return files


class PyannotePipelineDiarizer:
    """A local pyannote pipeline as a diarization step; speakers relabelled SPEAKER_00 …"""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser().resolve()
        config = self.directory / "config.yaml"
        if not self.directory.is_dir():
            raise Fs2fError(f"{ENV_VAR}={directory}: not a directory")
        if not config.is_file():
            raise Fs2fError(f"{ENV_VAR}={directory}: no config.yaml in it")
        self.config_sha256 = sha256_file(config)
        self.files_sha256 = pipeline_files(self.directory, config)
        from pyannote.audio import Pipeline

        try:
            pipeline = Pipeline.from_pretrained(self.directory)
        except Exception as error:  # pyannote raises many kinds; the user needs one line
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            raise Fs2fError(f"{ENV_VAR}={directory}: cannot load the pyannote pipeline ({reason})") from None
        if pipeline is None:
            raise Fs2fError(f"{ENV_VAR}={directory}: cannot load the pyannote pipeline")
        self.pipeline = pipeline

    def get_params(self) -> dict:
        return {
            "name": "pyannote pipeline",
            "directory": str(self.directory),
            "config_sha256": self.config_sha256,
            "files_sha256": self.files_sha256,
            "pipeline_class": type(self.pipeline).__name__,
            **{name: package_version(name) for name in PIPELINE_PACKAGES},
        }

    def diarize(self, *args, **kwargs) -> Diarization:
        """`__call__`'s annotation (same arguments); the pipeline says nothing of speech it set aside."""
        return Diarization(self(*args, **kwargs))

    def __call__(
        self,
        samples: Samples,
        sample_rate: int,
        speech_regions: Sequence[tuple[float, float]] | None = None,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Annotation:
        """Diarize; `speech_regions` are not used (the pipeline finds speech itself). The pipeline
        takes the waveform whole, so a PcmFile is read into memory here."""
        import torch

        samples = as_samples(samples)
        waveform = torch.from_numpy(np.ascontiguousarray(samples[0: len(samples)]).reshape(1, -1))
        counts = {"num_speakers": num_speakers, "min_speakers": min_speakers, "max_speakers": max_speakers}
        wanted = {k: v for k, v in counts.items() if v is not None}
        output = self.pipeline({"waveform": waveform, "sample_rate": sample_rate}, **wanted)
        annotation = getattr(output, "speaker_diarization", output)
        if not isinstance(annotation, Annotation):
            raise Fs2fError(f"{ENV_VAR}={self.directory}: the pipeline did not return a diarization")
        return label_by_first_appearance(annotation)


def diarizer_from_environment() -> PyannotePipelineDiarizer | None:
    """The pipeline named by `$FS2F_PYANNOTE_PIPELINE`, or None when the variable is unset/empty."""
    directory = os.environ.get(ENV_VAR, "").strip()
    return PyannotePipelineDiarizer(directory) if directory else None
