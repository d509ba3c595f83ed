"""Where a library has no public API for what the project needs: one module per
library, the reason beside each use, each guarded by tests/test_adapters.py so that a
change in the library fails a test instead of a run."""
