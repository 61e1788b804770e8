from kstock_streamer.planner import SubscriptionPlanner


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
