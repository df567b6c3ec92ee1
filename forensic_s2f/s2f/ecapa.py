"""Voice embedding from a local SpeechBrain ECAPA-TDNN folder (the `spkrec-ecapa-voxceleb` layout).

The folder holds `hyperparams.yaml` and `embedding_model.ckpt` (and `mean_var_norm_emb.ckpt` when
`normalize_embeddings` is set). The network is built by project code from SpeechBrain's classes
with the sizes the yaml gives, exactly as `EncoderClassifier.encode_batch` runs it: `Fbank` log-mel
features → `InputNormalization` per utterance → `ECAPA_TDNN`; nothing is fetched or cached and the
checkpoints are read with `torch.load(weights_only=True)` from bytes whose SHA-256 is recorded.

Windowing: the speech regions are cut out and joined; speech longer than `block_seconds` is cut into
equal blocks of at most that length. Each block gives one embedding (the size the checkpoint has,
192 for the VoxCeleb model), L2-normalised; the voice embedding is the L2-normalised mean of the blocks.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from forensic_s2f.audio.resample import resample
from forensic_s2f.errors import InputError
from forensic_s2f.s2f.encoder import VoiceEmbedding, clip_regions, speech_blocks

HYPERPARAMS_FILE = "hyperparams.yaml"
EMBEDDING_FILE = "embedding_model.ckpt"
EMBEDDING_NORM_FILE = "mean_var_norm_emb.ckpt"
_CLASSES = {
    "compute_features": "speechbrain.lobes.features.Fbank",
    "mean_var_norm": "speechbrain.processing.features.InputNormalization",
    "embedding_model": "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
    "mean_var_norm_emb": "speechbrain.processing.features.InputNormalization",
}


@dataclass(frozen=True)
class _Tagged:
    """A HyperPyYAML tagged node (`!new:module.Class` with its arguments), read without running it."""

    tag: str
    value: Any


class ECAPANetwork(torch.nn.Module):
    """Fbank → sentence mean (and variance) normalisation → ECAPA-TDNN [→ global embedding norm]."""

    def __init__(
        self,
        features: torch.nn.Module,
        normalisation: torch.nn.Module,
        embedding: torch.nn.Module,
        embedding_norm: torch.nn.Module | None,
    ) -> None:
        super().__init__()
        self.features = features
        self.normalisation = normalisation
        self.embedding = embedding
        self.embedding_norm = embedding_norm

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        """Embeddings (batch, size) of equal-length waveforms (batch, samples) at the Fbank rate."""
        lengths = torch.ones(wavs.shape[0])
        feats = self.normalisation(self.features(wavs), lengths)
        embeddings = self.embedding(feats, lengths)
        if self.embedding_norm is not None:
            embeddings = self.embedding_norm(embeddings, torch.ones(embeddings.shape[0]))
        return embeddings[:, 0, :]


class ECAPAEncoder:
    """Speaker embedding of the speech in a recording with a local SpeechBrain ECAPA folder.

    directory: the ECAPA folder (see module docstring); read at construction, never downloaded.
    sha256: expected SHA-256 per file name; a file that differs is refused (None: record what is there).
    block_seconds: seconds of speech embedded per block (bounds memory for long input).
    normalize_embeddings: subtract the global embedding statistics of `mean_var_norm_emb.ckpt`
        (SpeechBrain's `encode_batch(normalize=True)`); off by default, as in SpeechBrain.
    """

    def __init__(
        self,
        directory: Path | str,
        sha256: dict[str, str] | None = None,
        block_seconds: float = 30.0,
        normalize_embeddings: bool = False,
    ) -> None:
        self.directory = str(Path(directory).resolve())
        self.sha256 = dict(sha256) if sha256 is not None else None
        self.block_seconds = block_seconds
        self.normalize_embeddings = normalize_embeddings
        self._network, self._files, self._sample_rate = _load(
            Path(self.directory), self.sha256, normalize_embeddings
        )

    def get_params(self) -> dict[str, Any]:
        return {
            "kind": "ecapa",
            "encoder": "SpeechBrain ECAPA-TDNN (local folder, built by project code)",
            "directory": self.directory,
            "sha256": self._files,
            "block_seconds": self.block_seconds,
            "normalize_embeddings": self.normalize_embeddings,
        }

    @property
    def model(self) -> ECAPANetwork:
        return self._network

    def __call__(
        self, samples: np.ndarray, sample_rate: int, speech_regions: list[tuple[float, float]]
    ) -> VoiceEmbedding:
        """Embed the speech inside `speech_regions` (seconds) of mono `samples` at `sample_rate` Hz."""
        samples = np.asarray(samples, dtype=np.float32)
        regions = clip_regions(speech_regions, len(samples) / sample_rate)
        seconds = float(sum(b - a for a, b in regions))
        total = sum(len(samples[int(a * sample_rate) : int(b * sample_rate)]) for a, b in regions)
        if seconds <= 0 or total == 0:
            raise ValueError("no speech to embed")
        size = ceil(total / ceil(total / int(self.block_seconds * sample_rate)))  # equal blocks, no short tail
        blocks: list[np.ndarray] = []
        with torch.inference_mode():
            for piece in speech_blocks(samples, sample_rate, regions, size):
                wav = torch.from_numpy(resample(piece, sample_rate, self._sample_rate))[None, :]
                blocks.append(self._network(wav).numpy()[0])
        stacked = np.stack(blocks).astype(np.float32)
        stacked /= np.linalg.norm(stacked, axis=1, keepdims=True)
        mean = stacked.mean(axis=0)
        return VoiceEmbedding(
            embedding=(mean / np.linalg.norm(mean)).astype(np.float32),
            partials=stacked,
            seconds_used=round(seconds, 3),
        )


def read_hyperparams(path: Path) -> dict[str, Any]:
    """hyperparams.yaml with `!ref` resolved and `!new:` nodes kept as data (nothing is instantiated)."""
    from hyperpyyaml import resolve_references

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tagged:
        if isinstance(node, yaml.MappingNode):
            return _Tagged(suffix, loader.construct_mapping(node, deep=True))
        if isinstance(node, yaml.SequenceNode):
            return _Tagged(suffix, loader.construct_sequence(node, deep=True))
        return _Tagged(suffix, loader.construct_scalar(node))

    Loader.add_multi_constructor("!", tagged)
    try:
        with open(path) as handle:
            resolved = resolve_references(handle).getvalue()
        document = yaml.load(resolved, Loader=Loader)  # noqa: S506 (SafeLoader subclass)
    except Exception as error:  # any yaml or reference error is a bad input file
        raise InputError(path, f"not a readable SpeechBrain hyperparams file ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise InputError(path, "not a readable SpeechBrain hyperparams file")
    return document


def _component_args(hyperparams: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    node = hyperparams.get(name)
    expected = f"new:{_CLASSES[name]}"
    if not isinstance(node, _Tagged) or node.tag != expected:
        raise InputError(path, f"'{name}' must be !{expected}")
    args = node.value if isinstance(node.value, dict) else {}
    for key, value in args.items():
        if isinstance(value, _Tagged):
            raise InputError(path, f"'{name}.{key}' is !{value.tag}; only plain values are supported")
    return args


def _load(
    directory: Path, expected: dict[str, str] | None, normalize_embeddings: bool
) -> tuple[ECAPANetwork, dict[str, str], int]:
    """Build the network from `directory`; returns it, {file: SHA-256} and its input rate in Hz."""
    from speechbrain.lobes.features import Fbank
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.processing.features import InputNormalization

    if not directory.is_dir():
        raise InputError(directory, "ECAPA folder not found")
    needed = [HYPERPARAMS_FILE, EMBEDDING_FILE] + ([EMBEDDING_NORM_FILE] if normalize_embeddings else [])
    missing = [name for name in needed if not (directory / name).is_file()]
    if missing:
        raise InputError(directory, f"not a SpeechBrain ECAPA folder: missing {', '.join(missing)}")
    contents = {name: (directory / name).read_bytes() for name in needed}
    files = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    if expected is not None:
        for name in sorted(set(expected) | set(files)):
            if expected.get(name) != files.get(name):
                raise InputError(
                    directory / name,
                    f"SHA-256 differs from the one recorded with the model ({str(expected.get(name))[:12]}…, "
                    f"file {str(files.get(name))[:12]}…); the ECAPA file was altered or replaced",
                )
    path = directory / HYPERPARAMS_FILE
    hyperparams = read_hyperparams(path)
    feature_args = _component_args(hyperparams, "compute_features", path)
    try:
        features = Fbank(**feature_args)
        normalisation = InputNormalization(**_component_args(hyperparams, "mean_var_norm", path))
        embedding = ECAPA_TDNN(**_component_args(hyperparams, "embedding_model", path))
        embedding_norm = (
            InputNormalization(**_component_args(hyperparams, "mean_var_norm_emb", path))
            if normalize_embeddings
            else None
        )
    except (TypeError, ValueError, AssertionError) as error:
        raise InputError(path, f"cannot build the ECAPA network ({error})") from None
    try:
        state = torch.load(io.BytesIO(contents[EMBEDDING_FILE]), map_location="cpu", weights_only=True)
        embedding.load_state_dict(state, strict=True)
        if embedding_norm is not None:
            stats = torch.load(io.BytesIO(contents[EMBEDDING_NORM_FILE]), map_location="cpu", weights_only=True)
            embedding_norm._load_statistics_dict(stats)
    except Exception as error:  # unpickling or shape errors: the checkpoint does not fit the yaml
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(directory, f"ECAPA checkpoint does not load ({reason})") from None
    network = ECAPANetwork(features, normalisation, embedding, embedding_norm).eval()
    return network, files, int(feature_args.get("sample_rate", 16000))
