from kstock_streamer.planner import SubscriptionPlanner, fair_share


def codes(n, start=0):
    return [f"{i:06d}" for i in range(start, start + n)]


def test_the_most_demanded_take_the_slots_and_the_42nd_is_polled():
    planner = SubscriptionPlanner(slots=41, stable_seconds=30)
    demand = {symbol: 100 - i for i, symbol in enumerate(codes(42))}
    plan = planner.plan(planner.demand(demand), now=0)
    assert plan.subscribe == codes(41)
    assert plan.polled == ["000041"]  # polled, not refused
    assert len(plan.streamed) == 41


def test_defaults_stream_without_clients_and_clients_outrank_defaults():
    planner = SubscriptionPlanner(slots=2, stable_seconds=30)
    scores = planner.demand({"000660": 1}, defaults=["005930", "035420"])
    plan = planner.plan(scores, now=0)
    assert plan.subscribe == ["000660", "005930"]
    assert plan.polled == ["035420"]


def test_a_flicker_inside_the_stable_time_causes_no_subscription_change():
    planner = SubscriptionPlanner(slots=2, stable_seconds=30)
    planner.plan({"A00001": 5, "A00002": 4, "A00003": 1}, now=0)
    assert planner.streamed == {"A00001", "A00002"}
    # A00003 overtakes A00002 for 20 s, then falls back: nothing moves
    for t in range(1, 21):
        plan = planner.plan({"A00001": 5, "A00002": 4, "A00003": 9}, now=t)
        assert plan.subscribe == plan.unsubscribe == []
        assert "A00003" in plan.polled
    plan = planner.plan({"A00001": 5, "A00002": 4, "A00003": 1}, now=21)
    assert plan.subscribe == plan.unsubscribe == []
    # the timer restarted: a new overtake needs another full 30 s
    assert planner.plan({"A00001": 5, "A00002": 4, "A00003": 9}, now=22).subscribe == []
    assert planner.plan({"A00001": 5, "A00002": 4, "A00003": 9}, now=51).subscribe == []
    plan = planner.plan({"A00001": 5, "A00002": 4, "A00003": 9}, now=52)
    assert plan.subscribe == ["A00003"] and plan.unsubscribe == ["A00002"]
    assert planner.streamed == {"A00001", "A00003"}


def test_an_abandoned_symbol_leaves_after_the_stable_time_and_frees_its_slot():
    planner = SubscriptionPlanner(slots=3, stable_seconds=10)
    planner.plan({"A00001": 1, "A00002": 1}, now=0)
    assert planner.plan({"A00001": 1}, now=5).unsubscribe == []  # undemanded since t=5
    assert planner.plan({"A00001": 1}, now=14).unsubscribe == []
    assert planner.plan({"A00001": 1}, now=15).unsubscribe == ["A00002"]
    assert planner.streamed == {"A00001"}


def test_symbols_kis_cannot_stream_are_polled():
    planner = SubscriptionPlanner(slots=5, stable_seconds=0, streamable=lambda s: not s.startswith("Q"))
    plan = planner.plan({"Q500001": 9, "005930": 1}, now=0)
    assert plan.streamed == {"005930"} and plan.polled == ["Q500001"]


# -- fair share: distinct users, not sockets (issue 17, finding 5) ----------------------------------------


def test_fair_share_counts_users_and_falls_back_to_subscriptions_for_symbols_it_does_not_know():
    subscriptions = {"005930": 300, "000660": 3, "035420": 2, "051910": 0}
    users = {"005930": 1, "000660": 3}
    assert fair_share(subscriptions, users) == {"005930": 1, "000660": 3, "035420": 2}


def test_one_users_hundred_symbols_on_many_sockets_cannot_take_a_three_user_symbols_slot():
    """100 symbols of one user, each on 5 sockets (5 subscriptions), against one symbol of 3 users."""
    flood = codes(100, start=100)
    subscriptions = {**{symbol: 5 for symbol in flood}, "005930": 3}
    users = {**{symbol: 1 for symbol in flood}, "005930": 3}
    by_sockets = SubscriptionPlanner(slots=41, stable_seconds=30)
    assert "005930" not in by_sockets.plan(by_sockets.demand(subscriptions), now=0).streamed  # the old way
    planner = SubscriptionPlanner(slots=41, stable_seconds=30)
    plan = planner.plan(planner.demand(fair_share(subscriptions, users)), now=0)
    assert "005930" in plan.streamed and plan.subscribe[0] == "005930"
    assert len(plan.streamed) == 41 and len(plan.polled) == 60  # the flood's rest is polled
