"""KIS registrations shared by several app keys' ingest streamers (issue 18, part 5).

One KIS app key allows one WebSocket session of 41 registrations (docs/kis-protocol.md section 11).
With ``KIS_APP_KEYS`` each key runs its own ingest streamer, and they share the demanded names (symbols
and ``BOOK#{symbol}``) through a lease registry in Redis (:mod:`kstock.keys`):

* ``kis:slots:sessions`` (sorted set key index -> lease expiry, epoch ms): each streamer renews its lease
  every plan interval; one silent for ``KIS_SLOT_LEASE_SECONDS`` is dead, and the next renewal by anyone
  frees every name it held. ``kis:slots:tokens`` names the process holding each index's lease: a second
  process on one key gets no lease (KIS would refuse its session anyway, OPSP8996).
* ``kis:slots:owners`` (hash name -> key index) and ``kis:slots:held:{index}`` (set): a name has at most
  one owner, claimed atomically (Lua) only while the claimer's lease is live and its session holds fewer
  than its capacity (41), so no name is registered twice and no session goes over its 41.

Every streamer plans globally (the same :class:`SubscriptionPlanner` and anti-churn rule, with 41 slots per
live session) and registers only the names it owns (:func:`assign`): the most demanded unowned names of
the plan are claimed by whoever has room first; an owner releases a name when it leaves the plan. The
demanded names nobody owns (symbols, and books KIS streams) are polled, split between the live sessions by a stable hash
(:func:`polled_share`), so each key's REST budget carries its share. Time is the streamers' wall clock
(epoch ms): leases are seconds long, far above the skew of NTP-synced hosts.
"""

from __future__ import annotations

import logging
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import redis.asyncio as aioredis

from kstock import keys
from kstock_streamer.planner import SubscriptionPlanner

log = logging.getLogger("streamer.slots")

_HELD_PREFIX = keys.kis_slot_held(0)[:-1]  # "kis:slots:held:": the scripts append an index

# KEYS: sessions, tokens, owners. ARGV: index, token, now ms, expiry ms, held prefix.
# Answers {1, live indices...}, or {0} when another live process holds this index.
_RENEW = """
local holder = redis.call('HGET', KEYS[2], ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if holder and holder ~= ARGV[2] and score and tonumber(score) > tonumber(ARGV[3]) then
  return {0}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])) do
  local held = ARGV[5] .. dead
  for _, name in ipairs(redis.call('SMEMBERS', held)) do
    if redis.call('HGET', KEYS[3], name) == dead then redis.call('HDEL', KEYS[3], name) end
  end
  redis.call('DEL', held)
  redis.call('ZREM', KEYS[1], dead)
  redis.call('HDEL', KEYS[2], dead)
end
local answer = {1}
for _, index in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf')) do
  answer[#answer + 1] = index
end
return answer
"""

# KEYS: sessions, owners, held:{index}. ARGV: index, now ms, capacity, held prefix, names...
# Answers the names this index owns among those asked (already or newly).
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= tonumber(ARGV[2]) then return {} end
local count = redis.call('SCARD', KEYS[3])
local claimed = {}
for i = 5, #ARGV do
  local name = ARGV[i]
  local owner = redis.call('HGET', KEYS[2], name)
  if owner == ARGV[1] then
    claimed[#claimed + 1] = name
  else
    local free = not owner
    if owner then
      local lease = redis.call('ZSCORE', KEYS[1], owner)
      if not lease or tonumber(lease) <= tonumber(ARGV[2]) then
        redis.call('SREM', ARGV[4] .. owner, name)
        free = true
      end
    end
    if free and count < tonumber(ARGV[3]) then
      redis.call('HSET', KEYS[2], name, ARGV[1])
      redis.call('SADD', KEYS[3], name)
      count = count + 1
      claimed[#claimed + 1] = name
    end
  end
end
return claimed
"""

# KEYS: owners, held:{index}. ARGV: index, names...
_RELEASE = """
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
  redis.call('SREM', KEYS[2], ARGV[i])
end
return 1
"""

# KEYS: sessions, tokens, owners, held:{index}. ARGV: index, token.
_LEAVE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
for _, name in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if redis.call('HGET', KEYS[3], name) == ARGV[1] then redis.call('HDEL', KEYS[3], name) end
end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""


class LeaseConflict(RuntimeError):
    """Another live process holds this KIS key index's lease (two ingest streamers on one app key)."""


class SlotLeases:
    """One KIS key's lease and its claims in the shared registry (module docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        index: int,
        capacity: int,
        lease_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.index, self.capacity, self.lease_seconds = redis, index, capacity, lease_seconds
        self.token = uuid.uuid4().hex
        self._clock = clock
        self._renew = redis.register_script(_RENEW)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._leave = redis.register_script(_LEAVE)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def renew(self) -> list[int]:
        """Renew this session's lease (freeing the names of lapsed ones); the live key indices, sorted."""
        now = self._now_ms()
        answer = await cast(
            Awaitable[list[object]],
            self._renew(
                keys=[keys.KIS_SLOT_SESSIONS, keys.KIS_SLOT_TOKENS, keys.KIS_SLOT_OWNERS],
                args=[self.index, self.token, now, now + int(self.lease_seconds * 1000), _HELD_PREFIX],
            ),
        )
        if not answer or int(cast(int, answer[0])) == 0:
            raise LeaseConflict(f"another live ingest streamer holds KIS key {self.index}'s lease")
        return sorted(int(cast(str, index)) for index in answer[1:])

    async def owners(self) -> dict[str, int]:
        """Name -> owning key index, owners with a live lease only."""
        now = self._now_ms()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.KIS_SLOT_OWNERS)
            pipe.zrangebyscore(keys.KIS_SLOT_SESSIONS, f"({now}", "+inf")
            owners, live = await pipe.execute()
        alive = {str(index) for index in live}
        return {name: int(owner) for name, owner in owners.items() if owner in alive}

    async def claim(self, names: Sequence[str]) -> list[str]:
        """Claim ``names`` in order while this session has room; the ones it owns now."""
        if not names:
            return []
        answer = await cast(
            Awaitable[list[str]],
            self._claim(
                keys=[keys.KIS_SLOT_SESSIONS, keys.KIS_SLOT_OWNERS, keys.kis_slot_held(self.index)],
                args=[self.index, self._now_ms(), self.capacity, _HELD_PREFIX, *names],
            ),
        )
        return [str(name) for name in answer]

    async def release(self, names: Iterable[str]) -> None:
        names = list(names)
        if names:
            await cast(
                Awaitable[int],
                self._release(keys=[keys.KIS_SLOT_OWNERS, keys.kis_slot_held(self.index)], args=[self.index, *names]),
            )

    async def leave(self) -> None:
        """Give up the lease and every name at once (a graceful stop): the others take them next round."""
        await cast(
            Awaitable[int],
            self._leave(
                keys=[
                    keys.KIS_SLOT_SESSIONS,
                    keys.KIS_SLOT_TOKENS,
                    keys.KIS_SLOT_OWNERS,
                    keys.kis_slot_held(self.index),
                ],
                args=[self.index, self.token],
            ),
        )


# -- the assignment rule (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    lost: list[str]  # registered here, now owned by another session (this lease lapsed): unregister only
    release: list[str]  # owned here, out of the global plan: unregister and release
    claim: list[str]  # to claim, in order: held names Redis forgot first, then the plan's unowned names


def assign(planned: Sequence[str], mine: set[str], owners: Mapping[str, int], me: int, capacity: int) -> Assignment:
    """What session ``me`` does this round, from the global plan (``planned``, most demanded first), the
    names it registers (``mine``) and the registry's live owners."""
    planned_set = set(planned)
    lost = sorted(n for n in mine if owners.get(n, me) != me)
    release = sorted(n for n in mine if n not in planned_set and owners.get(n, me) == me)
    keep = [n for n in planned if n in mine and owners.get(n, me) == me]
    forgotten = [n for n in keep if n not in owners]  # Redis came back empty, or our lease lapsed and came back
    room = max(0, capacity - len(keep))
    fresh = [n for n in planned if n not in owners and n not in mine][:room]
    return Assignment(lost, release, forgotten + fresh)


def polled_share(demanded: Iterable[str], owners: Mapping[str, int], live: Sequence[int], me: int) -> list[str]:
    """The demanded names (symbols and ``BOOK#`` books) no session streams that session ``me`` polls: split
    between the live sessions by a stable hash of the name (crc32), in the order given."""
    if me not in live:
        return []
    position, count = sorted(live).index(me), len(live)
    return [name for name in demanded if name not in owners and zlib.crc32(name.encode()) % count == position]


@dataclass
class SharedSlots:
    """What an ingest streamer of several keys keeps between rounds: its lease, the global plan (its
    planner's slots follow the live sessions), and the registry as last read (status)."""

    leases: SlotLeases
    planner: SubscriptionPlanner
    live: list[int] = field(default_factory=list)
    owners: dict[str, int] = field(default_factory=dict)
    conflict: bool = False

    @property
    def index(self) -> int:
        return self.leases.index

    async def renew(self) -> bool:
        """Renew the lease and size the global plan by the live sessions; False on a conflict."""
        try:
            self.live = await self.leases.renew()
        except LeaseConflict as exc:
            if not self.conflict:
                log.error("%s: this streamer registers nothing until it lapses", exc)
            self.conflict, self.live = True, []
            return False
        self.conflict = False
        self.planner.slots = self.leases.capacity * len(self.live)
        return True

    def status(self) -> dict[str, object]:
        held: dict[str, int] = {}
        for owner in self.owners.values():
            held[str(owner)] = held.get(str(owner), 0) + 1
        return {
            "keyIndex": self.index,
            "liveSessions": self.live,
            "leaseConflict": self.conflict,
            "heldBySession": {str(index): held.get(str(index), 0) for index in self.live},
            "plannedSlots": self.planner.slots,
        }
