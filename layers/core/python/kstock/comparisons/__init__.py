"""Saved company comparisons of a user (PRD 2.1.4, 4.4)."""
