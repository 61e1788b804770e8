"""The small exception hierarchy of the KIS master-file boundary."""

from __future__ import annotations


class ListingError(Exception):
    """Any failure loading the KIS stock master files."""


class MasterUnavailable(ListingError):
    """Transient: the download failed (network, HTTP 5xx, timeout). Retried, then reported."""


class MasterFormatError(ListingError):
    """A file or record that does not follow the published layout (not a zip, wrong record length,
    a field that is not what its layout says). Never half-applied: the sync refuses the whole file."""
