"""The job engine: submit, the line, the poll tick, progress and delivery."""
