"""Report stage: the PDF an analyst hands over and an auditor checks."""
