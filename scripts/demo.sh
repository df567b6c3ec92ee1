#!/usr/bin/env bash
# A full case on the real two-speaker recording that pyannote.audio ships.
# Uses a throw-away store under demo-output/ unless FS2F_HOME is set.
set -euo pipefail
cd "$(dirname "$0")/.."
export FS2F_HOME="${FS2F_HOME:-$PWD/demo-output/store}"
export FS2F_EXAMINER="${FS2F_EXAMINER:-Demo Examiner}"
FS2F=.venv/bin/fs2f
SAMPLE=$(.venv/bin/python -c 'import forensic_s2f; from pyannote.audio.sample import SAMPLE_FILE; print(SAMPLE_FILE["audio"])')
CASE=DEMO-$(date -u +%Y%m%d-%H%M%S)

echo "== ingest $SAMPLE into case $CASE (store: $FS2F_HOME)"
$FS2F case add "$CASE" "$SAMPLE" --title "pyannote two-speaker sample" \
    --source "pyannote.audio $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("pyannote.audio"))') sample.wav" \
    --note "demo: real 30 s telephone-style conversation"
echo "== analyse: decode, denoise, VAD, diarization, per-speaker voice-to-face"
$FS2F case analyze "$CASE"
$FS2F case show "$CASE"
$FS2F case export "$CASE" --format rttm --output "demo-output/$CASE-export"
echo "== report"
$FS2F case report "$CASE" --output "demo-output/$CASE-report.pdf"
echo "== audit"
$FS2F audit verify "$CASE"
$FS2F audit log "$CASE" | tail -n 12
echo "== done: the report is demo-output/$CASE-report.pdf"
