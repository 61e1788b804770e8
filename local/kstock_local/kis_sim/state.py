"""What the simulator's REST and WebSocket sides share: tokens, approval keys, counters."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field


@dataclass
class IssuedToken:
    token: str
    app_key: str
    app_secret: str
    issued_at: float
    expires_at: float


@dataclass
class SimStats:
    tokens_issued: int = 0
    token_refusals: int = 0
    approvals_issued: int = 0
    rest_requests: int = 0
    rate_limited: int = 0
    expired_token_answers: int = 0
    sessions_opened: int = 0
    sessions_dropped_pingpong: int = 0
    pongs_frame: int = 0
    pongs_echo: int = 0
    frames_sent: int = 0
    records_sent: int = 0
    by_tr: dict[str, int] = field(default_factory=dict)


class SimState:
    def __init__(self) -> None:
        self.tokens: dict[str, IssuedToken] = {}
        self.last_issue: dict[str, float] = {}  # app key -> wall time of the last tokenP answer
        self.current: dict[str, IssuedToken] = {}  # app key -> its latest token
        self.approvals: dict[str, str] = {}  # approval key -> app key
        self.windows: dict[str, deque[float]] = {}  # app key -> request times in the last second
        self.stats = SimStats()

    def issue_token(self, app_key: str, app_secret: str, lifetime: float) -> IssuedToken:
        now = time.time()
        token = IssuedToken(
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(48),
            app_key,
            app_secret,
            now,
            now + lifetime,
        )
        self.tokens[token.token] = self.current[app_key] = token
        self.stats.tokens_issued += 1
        return token

    def issue_approval(self, app_key: str) -> str:
        key = str(uuid.uuid4())
        self.approvals[key] = app_key
        self.stats.approvals_issued += 1
        return key

    def over_rate(self, app_key: str, limit: int) -> bool:
        """Sliding one-second window per app key; True when this request is one too many."""
        now = time.monotonic()
        window = self.windows.setdefault(app_key, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limit:
            return True
        window.append(now)
        return False

    def expire_tokens(self) -> None:
        past = time.time() - 1
        for token in self.tokens.values():
            token.expires_at = past
