"""KIS investor trend (FHKST01010900 inquire-investor, issue 15): the simulator answers in KIS's wire format
and the client reads it, leaving out the blank figures of a session still running."""

from __future__ import annotations

import pytest
import requests
from support.kis import rest_client, running_simulator

from kstock.kis.errors import KisError, KisProtocolError
from kstock.kis.investor import INVESTOR_TREND, investor_trend, parse


@pytest.fixture(scope="module")
def sim():
    with running_simulator() as thread:
        yield thread


def test_the_simulator_answers_thirty_days_newest_first_in_kis_fields(sim):
    client = rest_client(sim.sim)
    token = client.auth.access_token()
    response = requests.get(
        sim.sim.rest_url + INVESTOR_TREND.path,
        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
        headers={
            "authorization": f"Bearer {token}",
            "appkey": client.credentials.app_key,
            "appsecret": client.credentials.app_secret,
            "tr_id": INVESTOR_TREND.tr_id,
            "custtype": "P",
        },
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 200 and body["rt_cd"] == "0", body
    rows = body["output"]
    assert len(rows) == 30
    dates = [r["stck_bsop_date"] for r in rows]
    assert dates == sorted(dates, reverse=True) and all(len(d) == 8 and d.isdigit() for d in dates)
    full = [r for r in rows if r["frgn_ntby_qty"] != ""]
    assert full and all(isinstance(v, str) for r in rows for v in r.values())
    for row in full:
        assert int(row["prsn_ntby_qty"]) == -(int(row["frgn_ntby_qty"]) + int(row["orgn_ntby_qty"]))
        assert int(row["frgn_shnu_vol"]) - int(row["frgn_seln_vol"]) == int(row["frgn_ntby_qty"])


def test_the_client_reads_the_days_oldest_first(sim):
    days = investor_trend(rest_client(sim.sim), "005930")
    assert len(days) >= 29 and [d.day for d in days] == sorted({d.day for d in days})
    assert all(d.close > 0 for d in days)
    with pytest.raises(KisError):
        investor_trend(rest_client(sim.sim), "999990")


def test_blank_figures_are_unknown_not_zero():
    body = {
        "output": [
            {
                "stck_bsop_date": "20260105",
                "stck_clpr": "70000",
                "prsn_ntby_qty": "",
                "frgn_ntby_qty": "",
                "orgn_ntby_qty": "",
            },
            {
                "stck_bsop_date": "20260102",
                "stck_clpr": "69,500",
                "prsn_ntby_qty": "-30",
                "frgn_ntby_qty": "20",
                "orgn_ntby_qty": "10",
            },
        ]
    }
    [day] = parse(body)
    assert (day.day.isoformat(), day.close, day.foreign_net, day.institution_net, day.individual_net) == (
        "2026-01-02",
        69500,
        20,
        10,
        -30,
    )
    with pytest.raises(KisProtocolError):
        parse(
            {
                "output": [
                    {"stck_bsop_date": "20260102", "prsn_ntby_qty": "x", "frgn_ntby_qty": "1", "orgn_ntby_qty": "1"}
                ]
            }
        )
