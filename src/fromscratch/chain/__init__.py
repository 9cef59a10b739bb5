"""Checkpoint chains as evidence of training from scratch (``fromscratch chain``).

``fromscratch.chain.api.verify_chain`` checks that CKPT_0 is a fresh random
initialisation (``init``, ``randomness``, ``scheme``), that each step is a
continuous training step (``steps``), and that the chain ends at the
submitted model. See docs/chain.md.
"""
