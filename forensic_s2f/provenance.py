"""What software ran: the versions every activity records."""

from __future__ import annotations

import hashlib
import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

from forensic_s2f import __version__
from forensic_s2f.store.vault import sha256_file

RECORDED_PACKAGES = (
    "numpy", "scipy", "torch", "torchaudio", "torchcodec", "pyannote.audio", "pyannote.core",
    "pyannote.metrics", "speechbrain", "noisereduce", "resemblyzer", "silero-vad", "soundfile",
    "scikit-learn", "sqlalchemy", "alembic", "reportlab", "matplotlib", "pandas", "pillow",
)


def package_version(name: str) -> str | None:
    """The installed distribution's version, or None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


PACKAGE_DIR = Path(__file__).resolve().parent  # the installed forensic_s2f package
# pretrained weights that ship inside packages: (package, file inside it) -> what reads them
PACKAGED_WEIGHTS = {
    "resemblyzer/pretrained.pt": ("resemblyzer", "pretrained.pt"),
    "silero_vad/data/silero_vad.jit": ("silero_vad", "data/silero_vad.jit"),
}


def software_versions() -> dict[str, str]:
    """fs2f, Python, the platform, every library a stage may use, the native decoders (FFmpeg's
    libraries as torchcodec loaded them, libsndfile) with their versions, and the SHA-256 of the
    pretrained weights that ship inside packages (`sha256 <path>` keys), and that of fs2f's own
    files as installed (`sha256 fs2f source`): a version number does not change when a constant
    in the code does."""
    versions = {"fs2f": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for name in RECORDED_PACKAGES:
        versions[name] = package_version(name) or "not installed"
    return {**versions, "sha256 fs2f source": source_sha256(), **_native_decoders(), **_weights_hashes()}


@cache
def source_sha256(package: Path = PACKAGE_DIR) -> str:
    """SHA-256 over every file of the forensic_s2f package (code, migrations, shipped weights;
    compiled caches left out): each file's path inside the package and SHA-256, one line each,
    in path order."""
    lines = sorted(f"{path.relative_to(package).as_posix()} {sha256_file(path)}\n" for path in package.rglob("*")
                   if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@cache
def _native_decoders() -> dict[str, str]:
    found = {}
    try:
        from torchcodec._core import get_ffmpeg_library_versions

        libraries = get_ffmpeg_library_versions()
        found["ffmpeg"] = str(libraries.get("ffmpeg_version", "unknown"))
        for name in ("libavcodec", "libavformat", "libavutil"):
            if name in libraries:
                found[name] = ".".join(str(part) for part in libraries[name])
    except (ImportError, RuntimeError, OSError):
        found["ffmpeg"] = "not loadable"
    try:
        import soundfile

        found["libsndfile"] = str(soundfile.__libsndfile_version__)
    except (ImportError, OSError):
        found["libsndfile"] = "not loadable"
    return found


@cache
def _weights_hashes() -> dict[str, str]:
    hashes = {}
    for key, (package, name) in PACKAGED_WEIGHTS.items():
        spec = find_spec(package)
        path = Path(spec.origin).parent / name if spec is not None and spec.origin else None
        hashes[f"sha256 {key}"] = sha256_file(path) if path is not None and path.is_file() else "not installed"
    return hashes
