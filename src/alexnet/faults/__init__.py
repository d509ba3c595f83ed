"""Fault tolerance: where a run resumes from (resume), exact mid-epoch resume
(exact_resume), checkpoints written atomically (atomic_io), a checkpoint on a signal
(signals) and the watchdog for hung or lost processes (watchdog)."""
