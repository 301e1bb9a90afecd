"""`newsbot serve` and `socket` refuse bad settings at startup: one line naming the variable, and no secret."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from botkit import BOT_TOKEN, NEWSBOT, SIGNING_SECRET, clean_env, free_port
from fakeslack import FakeSlack

SECRET_PART = "S3CR3TVALUE"


def run(tmp_path: Path, command: str = "serve", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*NEWSBOT, command],
        env=clean_env(NEWSBOT_INDEX_DIR=str(tmp_path / "nbindex"), **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_naming(done: subprocess.CompletedProcess, variable: str) -> None:
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert variable in last and last.startswith("newsbot "), done.stderr
    for secret in (SECRET_PART, BOT_TOKEN, SIGNING_SECRET):
        assert secret not in done.stderr + done.stdout


GOOD = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_API_URL": "http://127.0.0.1:9/api/",  # not reached: these runs stop before calling Slack
}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": f"xapp-{SECRET_PART}"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET"),
        ({**GOOD, "PORT": "eighty"}, "PORT"),
        ({**GOOD, "SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({**GOOD, "NEWSBOT_ADMINS": "alice"}, "NEWSBOT_ADMINS"),
        ({**GOOD, "NEWSBOT_PUBLIC_URL": "bot.example.com"}, "NEWSBOT_PUBLIC_URL"),
        ({**GOOD, "NEWSBOT_HTTP_TIMEOUT": "ten"}, "NEWSBOT_HTTP_TIMEOUT"),
        ({**GOOD, "NEWSBOT_HTTP_MAX_CONNECTIONS": "0"}, "NEWSBOT_HTTP_MAX_CONNECTIONS"),
    ],
)
def test_bad_settings_stop_startup(tmp_path, env, variable):
    assert_one_line_naming(run(tmp_path, **env), variable)
    assert not (tmp_path / "nbindex").exists(), "nothing should start before the settings are valid"


def test_socket_mode_needs_an_app_token(tmp_path):
    assert_one_line_naming(run(tmp_path, "socket", SLACK_BOT_TOKEN=BOT_TOKEN), "SLACK_APP_TOKEN")


def test_token_rejected_by_slack(tmp_path):
    fake = FakeSlack.start("xoxb-the-token-slack-knows")
    try:
        done = run(tmp_path, **{**GOOD, "SLACK_API_URL": fake.api_url})
    finally:
        fake.close()
    assert_one_line_naming(done, "SLACK_BOT_TOKEN")
    assert "invalid_auth" in done.stderr


def test_slack_unreachable(tmp_path):
    nobody_there = f"http://127.0.0.1:{free_port()}/api/"
    assert_one_line_naming(run(tmp_path, **{**GOOD, "SLACK_API_URL": nobody_there}), "SLACK_API_URL")


def test_port_in_use(tmp_path):
    fake = FakeSlack.start(BOT_TOKEN)
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        try:
            done = run(tmp_path, **{**GOOD, "SLACK_API_URL": fake.api_url, "PORT": str(taken.getsockname()[1])})
        finally:
            fake.close()
    assert_one_line_naming(done, "PORT")


def test_app_token_rejected_by_slack(tmp_path):
    fake = FakeSlack.start(BOT_TOKEN, app_token="xapp-the-token-slack-knows")
    try:
        done = run(tmp_path, "socket", SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=f"xapp-{SECRET_PART}",
                   SLACK_API_URL=fake.api_url)
    finally:
        fake.close()
    assert_one_line_naming(done, "SLACK_APP_TOKEN")
    assert "invalid_auth" in done.stderr
