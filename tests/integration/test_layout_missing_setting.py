"""A Lambda missing a required setting says which one (in the operator's log) instead of reaching for
embedded servers: the laptop-only half of the layout rule, through the real REST handler."""

from __future__ import annotations

import json

from support.envs import environment


def test_a_lambda_without_database_url_answers_500_and_logs_the_missing_setting(api, caplog):
    with environment(DATABASE_URL=None):
        status, body, _ = api("GET", "/companies/1")
    assert status == 500 and body["code"] == "INTERNAL_ERROR", body
    assert "DATABASE_URL" not in json.dumps(body), "the setting's name is for the operator's log, not the client"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("configuration error")]
    assert lines and "DATABASE_URL is not set" in lines[0], caplog.text
