"""Drift: the training-data reference (computed once, logged with the model) and the checks
that compare live data with it."""
