"""What software ran: the versions every activity records."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from forensic_s2f import __version__

RECORDED_PACKAGES = (
    "numpy", "scipy", "torch", "torchaudio", "torchcodec", "pyannote.audio", "pyannote.core",
    "pyannote.metrics", "speechbrain", "noisereduce", "resemblyzer", "silero-vad", "soundfile",
    "scikit-learn", "sqlalchemy", "alembic", "reportlab", "matplotlib", "pandas",
)


def package_version(name: str) -> str | None:
    """The installed distribution's version, or None when it is not installed."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def software_versions() -> dict[str, str]:
    """fs2f, Python, the platform and every library a stage may use, with their versions."""
    versions = {"fs2f": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for name in RECORDED_PACKAGES:
        versions[name] = package_version(name) or "not installed"
    return versions
