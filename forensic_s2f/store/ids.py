"""Validation of user-given identifiers that end up in paths and file names."""

from __future__ import annotations

import re

from forensic_s2f.errors import StoreError

CASE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def validate_case_id(case_id: str) -> str:
    """A case id: 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'."""
    if not CASE_ID_PATTERN.fullmatch(case_id or "") or ".." in case_id:
        shown = repr(case_id[:80]) + ("…" if len(case_id) > 80 else "")
        raise StoreError(
            f"invalid case id {shown}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..' or path separators"
        )
    return case_id
