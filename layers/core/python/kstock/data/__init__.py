"""Reference data files shipped with kstock (see SOURCES.md)."""
