"""A registry of model fingerprints, searched without naming a suspect.

``store`` keeps fingerprints (never weights) in an embedded SQLite index with one
file per fingerprint; ``sketch`` is the recall-oriented pre-filter; ``search``
runs the calibrated pairwise test of ``fromscratch.lineage.api`` on the
references the pre-filter passes; ``signing`` exports and imports signed
fingerprints; ``distributed`` runs fingerprinting and comparisons on Dask.
"""
