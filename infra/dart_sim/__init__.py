"""Placeholder; filled by issue 13."""
