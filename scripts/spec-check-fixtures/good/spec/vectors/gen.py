# Fixture: only the table scripts/spec-check.py reads.
VECTOR_REQ_SECTIONS = {
    "x.json": ["5.1"],
}
