"""The streamer: kstock's one long-lived container (KIS WebSocket ingest -> Redis -> fan-out,
tick writer). Its parts arrive with the streamer issue; the package is installed already so the
layout is the one ARCHITECTURE.md draws."""
