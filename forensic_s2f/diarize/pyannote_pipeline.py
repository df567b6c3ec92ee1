"""Use a local pyannote.audio pipeline instead of fs2f's own diarizer.

If `$FS2F_PYANNOTE_PIPELINE` names a directory holding a pyannote pipeline (config.yaml plus
the local checkpoints it points at), `diarizer_from_environment()` loads it offline and returns
a step with the same call as `Diarizer`. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pyannote.core import Annotation

from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.diarize.annotation import Diarization, label_by_first_appearance
from forensic_s2f.provenance import package_version
from forensic_s2f.errors import Fs2fError

ENV_VAR = "FS2F_PYANNOTE_PIPELINE"


class PyannotePipelineDiarizer:
    """A local pyannote pipeline as a diarization step; speakers relabelled SPEAKER_00 …"""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser().resolve()
        config = self.directory / "config.yaml"
        if not self.directory.is_dir():
            raise Fs2fError(f"{ENV_VAR}={directory}: not a directory")
        if not config.is_file():
            raise Fs2fError(f"{ENV_VAR}={directory}: no config.yaml in it")
        self.config_sha256 = hashlib.sha256(config.read_bytes()).hexdigest()
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
            "pipeline_class": type(self.pipeline).__name__,
            "pyannote.audio": package_version("pyannote.audio"),
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
