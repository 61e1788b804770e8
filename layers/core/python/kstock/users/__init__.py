"""Users: sign-up, log-in/out, favorites (PRD 4.1)."""
