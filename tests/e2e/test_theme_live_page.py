"""The live page's theme heat map in headless Chromium: a theme_update published on Redis goes through
the streamer's fan-out to the page's socket (subscribed to ``themes``) and becomes treemap blocks
coloured by change % (red up, blue down); a member's ticks recolour its theme; a click lists the
members and why they joined."""

from __future__ import annotations

import json

import pytest
from support.browser import CHROMIUM, Page
from support.live import emit
from support.users import make_user
from support.waiting import wait_for

from kstock import keys

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make test` installs it as root)")

RISING = {
    "themeId": 9001,
    "name": "2차전지",
    "isActive": True,
    "weight": 3_000_000_000,
    "members": [
        {
            "symbol": "006400",
            "name": "삼성SDI",
            "changePercent": 99.0,
            "tradedValue": 2_000_000_000,
            "inRanking": True,
            "classifier": "rules",
            "reason": "헤드라인 3건의 키워드(양극재)가 2차전지 테마와 일치합니다.",
        },
        {
            "symbol": "373220",
            "name": "LG에너지솔루션",
            "changePercent": 4.0,
            "tradedValue": 1_000_000_000,
            "inRanking": False,
            "classifier": "llm",
            "reason": "배터리 수주 헤드라인이 근거입니다.",
        },
    ],
}
FALLING = {
    "themeId": 9002,
    "name": "조선",
    "isActive": True,
    "weight": 1_000_000_000,
    "members": [
        {
            "symbol": "010140",
            "name": "삼성중공업",
            "changePercent": -3.0,
            "tradedValue": 1_000_000_000,
            "inRanking": True,
            "classifier": "rules",
            "reason": "수주 헤드라인이 근거입니다.",
        }
    ],
}
BLOCKS = (
    "Object.fromEntries([...document.querySelectorAll('.theme-block')].map(b => [b.dataset.themeId, "
    "{name: b.querySelector('.name').textContent, direction: b.dataset.direction, "
    "area: b.offsetWidth * b.offsetHeight}]))"
)


def test_a_theme_update_becomes_heat_map_blocks(cloud, streamer, sim, r, api, fast_bcrypt, tmp_path):
    user = make_user(api)
    page = Page(f"http://127.0.0.1:{cloud.ports.websocket}/live")
    try:
        wait_for(
            lambda: page.evaluate("document.readyState == 'complete' && !!document.getElementById('heatmap')"),
            15,
            "the page",
        )
        page.evaluate(f"""
            document.getElementById('email').value = {json.dumps(user.email)};
            document.getElementById('password').value = 'Passw0rd!';
            document.getElementById('symbols').value = '005930';
            document.querySelector('#login button').click();""")
        wait_for(lambda: streamer.fanout.by_topic.get("themes"), 30, "the page subscribed to themes", interval=0.2)
        assert page.evaluate(BLOCKS) == {}
        before = page.screenshot()

        r.publish(keys.THEME_UPDATES, json.dumps({"type": "theme_update", "themes": [RISING, FALLING]}))
        blocks = wait_for(
            lambda: page.evaluate(BLOCKS) if len(page.evaluate(BLOCKS)) == 2 else None,
            30,
            "two theme blocks on the heat map",
            interval=0.2,
        )
        assert (blocks["9001"]["name"], blocks["9002"]["name"]) == ("2차전지", "조선")
        assert blocks["9001"]["area"] > 2 * blocks["9002"]["area"]  # area follows traded value (3:1)
        # colour follows each theme's average change % as the page holds it now (members' ticks move it)
        shown = page.evaluate(
            "[...document.querySelectorAll('.theme-block')].map(b => [b.dataset.direction, "
            "averageChange(themes.get(Number(b.dataset.themeId))), getComputedStyle(b).backgroundColor])"
        )
        for direction, change, colour in shown:
            red, _, blue = (int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3])
            if change > 0.05:
                assert direction == "up" and red > blue, (change, colour)
            elif change < -0.05:
                assert direction == "down" and blue > red, (change, colour)
        up, down = page.evaluate("[colourOf(5), colourOf(-5)]")
        assert up.startswith("hsl(0,") and down.startswith("hsl(217,")  # red up, blue down
        # the next paint shows them (a busy machine's compositor may still hold the old frame a moment)
        after = wait_for(lambda: (shot := page.screenshot()) != before and shot, 15, "a heat map unlike the empty one")
        (tmp_path / "heatmap.png").write_bytes(after)
        assert after[:8] == b"\x89PNG\r\n\x1a\n" and after != before

        page.evaluate("document.querySelector('.theme-block[data-theme-id=\"9001\"]').click()")
        rows = page.evaluate(
            "[...document.querySelectorAll('#theme-detail tbody tr')].map(tr => "
            "[tr.dataset.symbol, tr.className, tr.textContent])"
        )
        assert [row[0] for row in rows] == ["006400", "373220"]
        assert "양극재" in rows[0][2] and rows[1][1] == "out" and "left the top 30" in rows[1][2]

        # the page follows the members' ticks: 99 % (impossible on KRX) gives way to the real change
        def ticked():
            emit(sim, "006400")
            value = page.evaluate("themes.get(9001).members[0].changePercent")
            return value if value != 99.0 else None

        live = wait_for(ticked, 60, "a tick of 006400 on the heat map", interval=0.3)
        assert abs(live) <= 30

        r.publish(keys.THEME_UPDATES, json.dumps({"type": "theme_update", "themes": [{**FALLING, "isActive": False}]}))
        wait_for(lambda: set(page.evaluate(BLOCKS)) == {"9001"}, 30, "the inactive theme to leave", interval=0.2)
    finally:
        page.close()


def test_the_page_gets_its_first_map_through_the_gateway(cloud, api):
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{cloud.ports.websocket}/live/themes", timeout=30) as answer:
        forwarded = json.load(answer)
    status, direct, _ = api("GET", "/themes")
    assert status == 200 and forwarded["status"] == 200
    assert forwarded["data"] == direct["data"]
