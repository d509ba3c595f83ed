"""Task functions: each takes a composed config and does one job."""
