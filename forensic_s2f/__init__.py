"""fs2f — forensic case analysis: evidence vault, custody log, diarization and voice-to-face.

Importing the package forces every third-party library it uses into offline, silent mode:
a forensic tool sends nothing anywhere and never fetches weights at run time.
"""

import os

os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
