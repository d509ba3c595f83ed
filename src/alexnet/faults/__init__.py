"""Fault tolerance: where a run resumes from (resume), exact mid-epoch resume
(exact_resume), last.ckpt kept current (last_checkpoint), a checkpoint on a signal
(signals) and the watchdog for hung or lost processes (watchdog)."""
