"""The SigV4 signer for each ``@connections`` host: local credentials for the local gateway, the
default chain (task role, profile, environment) for API Gateway. One signer per kind, made once."""

from __future__ import annotations

from kstock import aws
from kstock_streamer.fanout.signing import SigV4Signer, default_credentials, local_credentials


class Signers:
    def __init__(self, region: str, fixed: SigV4Signer | None = None) -> None:
        """``fixed``: one signer for every host (tests, or a caller that knows its credentials)."""
        self.region = region
        self.fixed = fixed
        self._by_locality: dict[bool, SigV4Signer] = {}

    def for_host(self, host: str) -> SigV4Signer:
        if self.fixed is not None:
            return self.fixed
        local = aws.is_local(f"http://{host}")
        signer = self._by_locality.get(local)
        if signer is None:
            signer = SigV4Signer(self.region, local_credentials if local else default_credentials())
            self._by_locality[local] = signer
        return signer
