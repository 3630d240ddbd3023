"""The analysis pipeline: lookup -> relabel -> classify -> change -> finalize (one module per stage).

Every stage is idempotent: outputs go to deterministic paths (written atomically), rows are replaced in
one transaction, and a stage guard on ``Analysis.stage`` makes a redelivered task a no-op once its stage
is over. Fanned-out stages (lookup, classify) run one task per window; the task that completes the
last window moves the analysis on with a conditional update, so exactly one successor is enqueued.
Work that does not need the previous stage runs beside it (relabel beside the window lookups; the
attribution and the similarity/ESD preview products beside the classify windows) and meets the line
again in a join (``state.join``); ``runner`` draws the whole graph.
"""
