"""`fs2f model ...`: predict faces and attributes from voices, show the model card, train, evaluate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from forensic_s2f.cli_terminal import out, progress_bar
from forensic_s2f.config import require_outside_store
from forensic_s2f.errors import Fs2fError, InputError, one_line
from forensic_s2f.numbers import probability_text

if TYPE_CHECKING:
    from forensic_s2f.audio.decode import AudioInfo
    from forensic_s2f.s2f.ecapa import ECAPAEncoder

model_app = typer.Typer(help="The Speech2Face model: predict, info, train, evaluate, train-overlap.", no_args_is_help=True)
ECAPA_HELP = (
    "Local SpeechBrain ECAPA folder (hyperparams.yaml, embedding_model.ckpt) to use as the voice "
    "encoder instead of the shipped GE2E; recorded with its file hashes."
)


def _ecapa_encoder(directory: Path | None) -> ECAPAEncoder | None:
    """The ECAPA encoder of `directory` (one-line Fs2fError when unusable), or None for GE2E."""
    if directory is None:
        return None
    from forensic_s2f.s2f.ecapa import ECAPAEncoder

    return ECAPAEncoder(directory)


def _input_record(path: Path, info: AudioInfo) -> dict[str, Any]:
    """prediction.json's "input": the file as named by the user, its size (bytes), its SHA-256
    and what the decoder found it to be (media type, codec, native rate in Hz, channels, seconds)."""
    from forensic_s2f.store.vault import sha256_file

    original = {"media_type": info.media_type, "codec": info.codec, "sample_rate_hz": info.sample_rate,
                "channels": info.channels, "duration_seconds": round(info.duration_seconds, 3)}
    try:
        return {"path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path), "original": original}
    except OSError as error:
        raise InputError(path, f"cannot be read ({error.strerror or error})") from None


@model_app.command()
def predict(
    files: list[Path] = typer.Argument(..., help="Audio files (any format FFmpeg reads)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for one sub-folder per input."),
    model_dir: Path | None = typer.Option(None, "--model", help="Weights folder (default: shipped)."),
) -> None:
    """Estimate gender, age bracket and a canonical face for each file's speaker.

    Each input gets a new folder `OUTPUT/<stem>` (`<stem>-2`, … for a repeated stem); the command
    refuses to start when any of them already exists.
    """
    from forensic_s2f.audio.decode import TARGET_SAMPLE_RATE, load, probe
    from forensic_s2f.audio.resample import resampler_name
    from forensic_s2f.audio.vad import SileroVAD
    from forensic_s2f.provenance import software_versions
    from forensic_s2f.s2f.dataset import age_range
    from forensic_s2f.s2f.model import load_model
    from forensic_s2f.s2f.predict import prediction_folders, write_prediction

    require_outside_store(output)
    folders = prediction_folders(files, output)
    model = load_model(model_dir)
    vad = SileroVAD()  # the voice activity `case analyze` gives the model, so both estimate alike
    settings = {"vad": vad.get_params(), "decoder": {"sample_rate_hz": TARGET_SAMPLE_RATE, "mixdown": "mean of channels",
                                                     "resampler": resampler_name()},
                "software": software_versions()}
    table = Table()
    for column in ("file", "gender", "age", "speech (s)", "warnings", "output"):
        table.add_column(column, overflow="fold")  # (a long name is folded onto more lines, never cut)
    failed = 0
    for path, folder in zip(files, folders):
        try:
            probe(path)  # FFmpeg reads the whole file, as `case add` does: what it refuses is refused here too
            audio = load(path)
            source = _input_record(path, audio.info)
            try:
                prediction = model.predict(audio.samples, audio.sample_rate, vad(audio.samples, audio.sample_rate))
            except InputError:
                raise
            except Fs2fError as error:
                raise InputError(path, str(error)) from None
            prediction.warnings[:0] = audio.info.warnings  # what the file itself calls for, first
            prediction.settings = settings
            written = write_prediction(prediction, folder, source)
        except Fs2fError as error:
            failed += 1
            typer.echo(f"error: {one_line(str(error))}", err=True)
            continue
        gender = max(prediction.gender, key=prediction.gender.get)
        age = prediction.age_estimate  # (scored with its neighbours: shown as that range)
        table.add_row(*(Text(one_line(cell)) for cell in (
            str(path),
            f"{gender} {probability_text(prediction.gender[gender])}",
            f"{age_range(age)} {probability_text(prediction.age_estimate_within_one)}; most probable "
            f"{max(prediction.age, key=prediction.age.get)} {probability_text(max(prediction.age.values()))}",
            f"{prediction.seconds_used:.1f}",
            "; ".join(prediction.warnings) or "-",
            str(written["prediction"].parent),
        )))
    if table.row_count:
        out.print(table)
    if failed:
        typer.echo(f"{failed} of {len(files)} file(s) failed", err=True)
        raise typer.Exit(1)


@model_app.command()
def info(
    model_dir: Path | None = typer.Option(None, "--model", help="Weights folder (default: shipped)."),
) -> None:
    """Print the model card: training data, method, validation figures, limitations."""
    from forensic_s2f.s2f.model import load_model

    typer.echo(load_model(model_dir).card())


@model_app.command()
def train(
    data: Path = typer.Option(..., "--data", help="Voice–face pair folder (labels.csv, audio/, face_f2f/)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the new weights."),
    members: int = typer.Option(5, "--members", min=2, help="Ensemble members."),
    seed: int = typer.Option(0, "--seed", help="Seed for bootstrap resamples and folds."),
    limit: int | None = typer.Option(None, "--limit", min=10, help="Train on the first N clips only."),
    cache: Path | None = typer.Option(None, "--cache", help="Folder to keep clip embeddings between runs."),
    ecapa_dir: Path | None = typer.Option(None, "--ecapa-dir", help=ECAPA_HELP),
) -> None:
    """Train the model (reproduces the shipped weights from ../shared/data/s2f-pairs)."""
    from forensic_s2f.s2f.train import require_new_folder
    from forensic_s2f.s2f.train import train as train_model

    require_outside_store(output)
    require_new_folder(output)
    encoder = _ecapa_encoder(ecapa_dir)
    with progress_bar() as bar:
        task = bar.add_task("embedding clips", total=None)
        model = train_model(
            data,
            output,
            members,
            seed,
            limit,
            cache_dir=cache,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            encoder=encoder,
        )
    typer.echo(f"wrote {output} (model.npz sha256 {model.sha256})")


@model_app.command("train-overlap")
def train_overlap(
    data: Path = typer.Option(..., "--data", help="Folder with audio/*.flac single-speaker clips (s2f-pairs)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the new detector weights."),
    seed: int = typer.Option(0, "--seed", help="Seed for the mixtures and the training."),
    examples: int = typer.Option(8000, "--examples", min=10, help="Training mixtures (6 s each)."),
    steps: int = typer.Option(5000, "--steps", min=1, help="Training steps (batches of 32 mixtures)."),
) -> None:
    """Train the overlapped-speech detector (reproduces the shipped weights from ../shared/data/s2f-pairs)."""
    from forensic_s2f.diarize.overlap import save_overlap_weights
    from forensic_s2f.diarize.overlap_training import train_overlap_network, training_clips
    from forensic_s2f.s2f.train import require_new_folder

    require_outside_store(output)
    require_new_folder(output)
    with progress_bar() as bar:
        task = bar.add_task("reading clips", total=None)
        clips = training_clips(data)
        network, record = train_overlap_network(
            clips, seed, examples, steps,
            progress=lambda what, done, total: bar.update(task, description=what, completed=done, total=total),
        )
    sha256 = save_overlap_weights(network, output, record)
    typer.echo(f"wrote {output} (overlap.npz sha256 {sha256})")


@model_app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Voice–face pair folder."),
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds (split by video)."),
    members: int = typer.Option(5, "--members", min=2, help="Ensemble members."),
    seed: int = typer.Option(0, "--seed", help="Seed for folds, resamples and retrieval pools."),
    limit: int | None = typer.Option(None, "--limit", min=10, help="Evaluate on the first N clips only."),
    cache: Path | None = typer.Option(None, "--cache", help="Folder to keep clip embeddings between runs."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the figures as JSON here."),
    attach_to: Path | None = typer.Option(
        None, "--attach-to", help="Weights folder to receive validation.json (manifest re-signed)."
    ),
    card: Path | None = typer.Option(
        None, "--card", help="Write the model card of --attach-to's weights (default: shipped) here."
    ),
    ecapa_dir: Path | None = typer.Option(None, "--ecapa-dir", help=ECAPA_HELP),
) -> None:
    """Cross-validated gender, age, calibration and face-retrieval figures."""
    from forensic_s2f.s2f.evaluate import evaluate as evaluate_model
    from forensic_s2f.s2f.evaluate import format_evaluation
    from forensic_s2f.s2f.model import attach_validation, load_model

    for written in (attach_to, card):
        if written is not None:
            require_outside_store(written)
    encoder = _ecapa_encoder(ecapa_dir)
    if attach_to is not None:
        recorded = load_model(attach_to).encoder.get_params()
        used = encoder.get_params() if encoder is not None else {"kind": None}
        if recorded.get("kind") != used.get("kind") or recorded.get("sha256") != used.get("sha256"):
            raise Fs2fError(
                f"{attach_to}: its voice encoder differs from the one evaluated "
                "(pass the same --ecapa-dir the model was trained with, or none for GE2E)"
            )
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def step(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = evaluate_model(
            data, folds, seed, members, limit=limit, cache_dir=cache, progress=step, encoder=encoder
        )
    typer.echo(format_evaluation(result))
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if attach_to is not None:
        attach_validation(attach_to, result)
    if card is not None:
        card.write_text(load_model(attach_to).card())

