"""Sweeps: the Optuna sweeper on a study database (sweeper), the database and its
workers (storage, database), Hydra overrides as distributions (search_space), a
trial's pruning (pruning) and the study's report (report)."""
