"""fromscratch: an open referee for national foundation-model competitions.

Two questions, answered with evidence: was a submitted model built from scratch
(per component, with calibrated error rates), and would the elimination decision
survive sampling noise and a reasonable change of the rules.
"""

__version__ = "0.1.0"
