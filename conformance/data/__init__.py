"""Data shipped with the gate: edge-case ids and the summary.json schema."""
