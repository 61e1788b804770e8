"""Which symbols get one of KIS's WebSocket slots, which are polled over REST, and when to change.

Demand decides, not a fixed list: the symbols clients subscribe to (counted by the WebSocket
handlers in Redis), a configured default set and the watchlist other jobs publish. A symbol's
client demand is the number of distinct users who want it (:func:`fair_share`), not its
subscriptions, so one user's hundreds of sockets cannot push other users' symbols off KIS's
WebSocket onto polling (issue 17, finding 5). The most demanded streamable symbols take the
slots (41 per KIS session); every other demanded symbol, and any instrument KIS cannot stream,
is polled. A symbol moves into or out of a slot only after
it has wanted to for ``stable_seconds`` without interruption, so rank flickers cause no
subscribe/unsubscribe churn (seed 000's anti-churn rule). Pure logic: time is passed in.

Order books (issue 18) compete for the same slots: a book is demand of its own under its name
``BOOK#{symbol}`` (:mod:`kstock.realtime.channels`), scored by its distinct users like a symbol's
trades, and costs one slot of its own (KIS counts every registration). At equal demand a symbol's
trades go first: an unstreamed trade feed falls back to polling (and feeds storage, candles and
signals), an unstreamed book is polled too (a REST snapshot, less often than a stream).
Defaults and the watchlist ask for trades only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kstock.realtime.channels import book_symbol

# Base demand of symbols nobody subscribed to but that should stream anyway.
DEFAULT_WEIGHT = 0.5
WATCHLIST_WEIGHT = 0.25


def fair_share(subscriptions: Mapping[str, int], users: Mapping[str, int]) -> dict[str, int]:
    """Client demand per symbol: its distinct users (``ws:demand:users``). A symbol the users count
    does not know yet (no per-user counts kept, or a drift the reconciler has not repaired) counts
    its subscriptions, as before per-user counts existed."""
    wanted = {s: n for s, n in users.items() if n > 0}
    for symbol, n in subscriptions.items():
        if n > 0 and symbol not in wanted:
            wanted[symbol] = n
    return wanted


@dataclass(frozen=True)
class Plan:
    subscribe: list[str]  # take a slot now (most demanded first)
    unsubscribe: list[str]  # give a slot up now
    streamed: frozenset[str]  # slot holders after applying the plan
    polled: list[str]  # demanded but not streamed, most demanded first


@dataclass
class SubscriptionPlanner:
    slots: int
    stable_seconds: float
    streamable: Callable[[str], bool] = lambda _symbol: True
    streamed: set[str] = field(default_factory=set)
    _want_in_since: dict[str, float] = field(default_factory=dict)
    _want_out_since: dict[str, float] = field(default_factory=dict)
    _planned: bool = False

    def demand(
        self, clients: Mapping[str, int], defaults: Iterable[str] = (), watchlist: Iterable[str] = ()
    ) -> dict[str, float]:
        """One score per wanted symbol: client demand (distinct users, :func:`fair_share`) plus the
        small weights of defaults / watchlist."""
        scores: dict[str, float] = {s: float(n) for s, n in clients.items() if n > 0}
        for symbol in defaults:
            scores[symbol] = scores.get(symbol, 0.0) + DEFAULT_WEIGHT
        for symbol in watchlist:
            scores[symbol] = scores.get(symbol, 0.0) + WATCHLIST_WEIGHT
        return scores

    def plan(self, scores: Mapping[str, float], now: float) -> Plan:
        ranked = sorted(scores, key=lambda s: (-scores[s], book_symbol(s) is not None, s))
        desired = [s for s in ranked if self.streamable(s)][: self.slots]
        desired_set = set(desired)

        # Timers: how long each symbol has wanted to change sides.
        for symbol in desired_set - self.streamed:
            self._want_in_since.setdefault(symbol, now)
        for symbol in list(self._want_in_since):
            if symbol not in desired_set or symbol in self.streamed:
                del self._want_in_since[symbol]
        for symbol in self.streamed - desired_set:
            self._want_out_since.setdefault(symbol, now)
        for symbol in list(self._want_out_since):
            if symbol in desired_set or symbol not in self.streamed:
                del self._want_out_since[symbol]

        first = not self._planned  # at start-up there is no history to flicker against: take the slots
        self._planned = True

        def settled(since: dict[str, float], symbol: str) -> bool:
            return first or now - since[symbol] >= self.stable_seconds

        # A symbol nobody wants at all leaves at once after the stable time; leaving frees slots first.
        unsubscribe = sorted(
            (s for s in self._want_out_since if settled(self._want_out_since, s)), key=lambda s: (scores.get(s, 0.0), s)
        )
        staying = len(self.streamed) - len(unsubscribe)
        free = self.slots - staying
        subscribe = [s for s in desired if s in self._want_in_since and settled(self._want_in_since, s)][: max(0, free)]
        streamed = (self.streamed - set(unsubscribe)) | set(subscribe)
        for symbol in unsubscribe:
            self._want_out_since.pop(symbol, None)
        for symbol in subscribe:
            self._want_in_since.pop(symbol, None)
        self.streamed = streamed
        polled = [s for s in ranked if s not in streamed]
        return Plan(subscribe, unsubscribe, frozenset(streamed), polled)
