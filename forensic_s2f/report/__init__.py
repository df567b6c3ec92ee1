"""Report stage: the PDF an analyst hands over and an auditor checks.

`data.gather_report_data(store, case_id, run_id)` reads a verified case and one completed run
into plain dataclasses; `build.build_report(data, caveats, validation, examiner, written_utc)`
renders them (sections in `front`, `findings`, `back`; figures in `figures`; page furniture in
`layout`); `publish.publish_report(...)` writes the file and records it in the store.
Measured model figures come only through `validation.load_validation_figures()`; the general
caveats only from the versioned files in `templates/caveats/`.
"""
