"""Running a round end to end into a verifiable folder (see `run.py`, `ledger.py`)."""
