"""One module per operation kind: what it checkpoints and how it replays.

Every operation follows the same shape: take the next id, look it up, check
that the recorded operation is the one asked for (else the handler is not
deterministic), return or raise the recorded outcome, or run and checkpoint.
"""
