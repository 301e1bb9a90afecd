"""The Slack app manifest (`manifest.yml`) against Slack's own manifest schema, and against what the code listens
for: every event the listeners handle is subscribed, every scope the calls need is asked for."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from bot.slack.listeners.shortcuts import CALLBACK_ID

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "data" / "slack-manifest.schema.json"  # slackapi/manifest-schema, MIT


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_the_manifest_is_valid_by_slacks_schema():
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(manifest())]
    assert errors == []


def test_the_schema_check_finds_a_planted_mistake():
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    broken = manifest()
    broken["features"]["assistant_view"]["assistant_descriptoin"] = "typo"
    broken["features"]["shortcuts"][0]["name"] = "Ask Newsbot about this message please"  # past 24 characters
    assert len(list(validator.iter_errors(broken))) == 2


def test_the_manifest_subscribes_to_what_the_bot_listens_for_with_the_scopes_it_needs():
    app = manifest()
    events = set(app["settings"]["event_subscriptions"]["bot_events"])
    assert events >= {"app_mention", "app_home_opened", "message.im", "message.channels", "message.groups",
                      "assistant_thread_started", "assistant_thread_context_changed"}
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    needed = {
        "assistant:write",  # assistant.threads.setStatus / setTitle / setSuggestedPrompts
        "chat:write", "commands", "reactions:write", "im:write",  # conversations.open for a shortcut's DM
        "channels:history", "groups:history", "im:history",  # message.channels / .groups / .im
        "app_mentions:read", "users:read",
    }
    assert needed <= scopes
    features = app["features"]
    assert features["assistant_view"]["assistant_description"]
    assert [(s["type"], s["callback_id"]) for s in features["shortcuts"]] == [("message", CALLBACK_ID)]
    assert app["settings"]["interactivity"]["is_enabled"] is True  # shortcuts and buttons arrive as interactions
