"""Several KIS app keys (issue 18 part 5): who registers which name, who polls what (pure rules), and the
KIS_APP_KEYS format."""

from __future__ import annotations

import zlib

import pytest
from pydantic import SecretStr

from kstock.config import Settings
from kstock.kis.auth import KisCredentials, parse_app_keys
from kstock.kis.errors import KisAuthError
from kstock_streamer.slots import assign, polled_share


def codes(n: int, start: int = 0) -> list[str]:
    return [f"{i:06d}" for i in range(start, start + n)]


# -- assign --------------------------------------------------------------------------------------------------


def test_a_session_claims_the_most_demanded_unowned_names_up_to_its_capacity() -> None:
    planned = codes(100)
    owners = {name: 0 for name in codes(41)}  # session 0 holds the top 41
    move = assign(planned, set(), owners, me=1, capacity=41)
    assert move.claim == codes(41, start=41)  # the next 41, most demanded first
    assert move.lost == move.release == []


def test_a_full_session_claims_nothing_and_keeps_what_it_holds() -> None:
    mine = set(codes(41))
    owners = dict.fromkeys(mine, 2)
    move = assign(codes(100), mine, owners, me=2, capacity=41)
    assert move == type(move)([], [], [])


def test_a_name_that_left_the_plan_is_released_and_its_room_reused() -> None:
    mine = {"000001", "000002"}
    owners = {"000001": 0, "000002": 0}
    move = assign(["000001", "000003"], mine, owners, me=0, capacity=2)
    assert move.release == ["000002"]
    assert move.claim == ["000003"]


def test_names_another_session_took_are_lost_not_released() -> None:
    """Our lease lapsed (a long pause) and another session owns the name now: unregister, never release it."""
    move = assign(["000001"], {"000001"}, {"000001": 1}, me=0, capacity=41)
    assert move.lost == ["000001"] and move.release == [] and move.claim == []


def test_names_redis_forgot_are_claimed_again_first() -> None:
    """Redis came back empty: what this session registers is recorded again before anything new."""
    move = assign(["000009", "000001"], {"000001"}, {}, me=0, capacity=2)
    assert move.claim == ["000001", "000009"]


def test_names_are_never_claimed_twice_across_sessions() -> None:
    """Three sessions claim in turn against the registry the others left: every name once, none over 41."""
    planned = codes(100)
    owners: dict[str, int] = {}
    for me in (0, 1, 2):
        for name in assign(planned, set(), owners, me, 41).claim:
            assert name not in owners
            owners[name] = me
    assert sorted(owners) == planned
    assert [list(owners.values()).count(me) for me in (0, 1, 2)] == [41, 41, 18]


# -- polled_share --------------------------------------------------------------------------------------------


def test_unowned_names_are_polled_by_exactly_one_live_session() -> None:
    demanded = [*codes(30), "BOOK#000001", "BOOK#000015"]
    owners = {name: 0 for name in [*codes(10), "BOOK#000001"]}
    shares = [polled_share(demanded, owners, [0, 2, 5], me) for me in (0, 2, 5)]
    polled = [name for share in shares for name in share]
    unowned = [*codes(20, start=10), "BOOK#000015"]
    assert sorted(polled) == sorted(unowned)  # no streamed name or book, each unowned one once
    assert all(shares)  # the hash spreads them
    assert shares[1] == [n for n in unowned if zlib.crc32(n.encode()) % 3 == 1]


def test_one_live_session_polls_everything_unowned_in_demand_order() -> None:
    assert polled_share(["000003", "000001"], {}, [4], me=4) == ["000003", "000001"]


def test_a_session_without_a_lease_polls_nothing() -> None:
    assert polled_share(["000001"], {}, [0, 1], me=2) == []


# -- KIS_APP_KEYS -------------------------------------------------------------------------------------------


def _settings(**values: object) -> Settings:
    base: dict[str, object] = {"kis_app_key": None, "kis_app_secret": None, "kis_app_keys": None, "kis_key_index": 0}
    return Settings(**{**base, **values})


def test_app_keys_are_pairs_separated_by_commas_or_newlines() -> None:
    pairs = parse_app_keys(" PSkeyA:secretA ,PSkeyB:secretB\nPSkeyC:secret:C\n")
    assert [(p.app_key, p.app_secret) for p in pairs] == [
        ("PSkeyA", "secretA"),
        ("PSkeyB", "secretB"),
        ("PSkeyC", "secret:C"),
    ]


@pytest.mark.parametrize("text", ["PSkeyA", "PSkeyA:", ":hidden", "PSkeyA:hidden1,PSkeyA:hidden2"])
def test_a_malformed_pair_names_its_position_never_its_text(text: str) -> None:
    with pytest.raises(KisAuthError) as raised:
        parse_app_keys(text)
    assert "KIS_APP_KEYS: pair" in str(raised.value)
    assert "PSkeyA" not in str(raised.value) and "hidden" not in str(raised.value)


def test_the_key_index_picks_the_pair_and_replaces_the_single_key() -> None:
    configured = _settings(
        kis_app_keys=SecretStr("PSkeyA:secretA,PSkeyB:secretB"), kis_key_index=1, kis_app_key=SecretStr("PSsingle")
    )
    assert KisCredentials.from_settings(configured).app_key == "PSkeyB"
    assert len(KisCredentials.pool_from_settings(configured)) == 2


def test_an_index_past_the_pairs_is_a_clear_error() -> None:
    with pytest.raises(KisAuthError, match="KIS_KEY_INDEX is 2 but KIS_APP_KEYS holds 2 pair"):
        KisCredentials.from_settings(_settings(kis_app_keys=SecretStr("a:b,c:d"), kis_key_index=2))


def test_without_app_keys_the_single_pair_works_as_before() -> None:
    configured = _settings(kis_app_key=SecretStr("PSsingle"), kis_app_secret=SecretStr("s" * 180))
    assert KisCredentials.from_settings(configured).app_key == "PSsingle"
    assert KisCredentials.pool_from_settings(configured) == []


def test_each_key_has_its_own_token_cache_name() -> None:
    """Tokens, approval keys and the REST bucket are per app key (its hash): never shared across keys."""
    a, b = parse_app_keys("PSkeyA:secretA,PSkeyB:secretB")
    assert a.app_id != b.app_id
    assert "PSkeyA" not in repr(a) and "secretA" not in repr(a)


# -- kstock up --kis-keys --------------------------------------------------------------------------------------


def test_kstock_up_gives_the_simulator_n_placeholder_pairs_the_first_being_the_single_key() -> None:
    from kstock_local.cli.main import build_parser
    from kstock_local.kis_sim.credentials import (
        SIMULATOR_APP_KEY,
        SIMULATOR_APP_SECRET,
        has_real_key,
        simulator_environment,
    )

    assert build_parser().parse_args(["up", "--kis-keys", "3"]).kis_keys == 3
    environment = simulator_environment("http://127.0.0.1:1", "ws://127.0.0.1:2", keys=3)
    pairs = parse_app_keys(environment["KIS_APP_KEYS"])
    assert len({p.app_key for p in pairs}) == 3 and all(len(p.app_key) == 36 for p in pairs)
    assert (pairs[0].app_key, pairs[0].app_secret) == (SIMULATOR_APP_KEY, SIMULATOR_APP_SECRET)
    assert "KIS_APP_KEYS" not in simulator_environment("http://127.0.0.1:1", "ws://127.0.0.1:2")
    # an inherited environment of placeholders is not a real key; a user's own pairs are
    assert not has_real_key(_settings(kis_app_keys=SecretStr(environment["KIS_APP_KEYS"])))
    assert has_real_key(_settings(kis_app_keys=SecretStr("PSmine:secret,PSmine2:secret2")))
