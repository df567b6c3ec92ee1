"""Diarization stage: who spoke when, as pyannote.core Annotations."""
