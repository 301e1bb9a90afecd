"""Shared fixtures: the real model (loaded once per test session), the seeds, and CLI runners."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botkit import BOT_TOKEN
from fakeslack import FakeSlack

from index import CrossEncoder, Embedder, Index, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NATO_QUESTION = "why did NATO expel the diplomats?"
OFF_TOPIC_QUESTION = "What is the recipe for banana bread?"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 for one test module, knowing the bot token `botkit.BOT_TOKEN`."""
    fake = FakeSlack.start(BOT_TOKEN)
    yield fake
    fake.close()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, shared by every in-process index of the session."""
    model = Embedder()
    model.encode(["load the model once"])
    return model


READER = CrossEncoder()  # the real reader, loaded by the first index that reads and shared by every one


def make_index(
    tmp: Path, embedder: Embedder, articles: Path | None = None, cross_encoder: CrossEncoder = READER, **settings
) -> Index:
    """An index in `tmp/index` over `articles` (default: the seeds), sharing the loaded models."""
    config = Settings(index_dir=tmp / "index", articles_dir=articles or SEEDS, **settings)
    return Index.open(settings=config, embedder=embedder, cross_encoder=cross_encoder, log=lambda message: None)


# Three articles with front matter: a source, a url and a day each (the seeds under two outlets' names).
SOURCED_ARTICLES = {
    "reuters.md": ("Reuters", "https://www.reuters.com/world/nato-1", "2025-01-10", "000_1c6ccadab8500b43.txt"),
    "ap.md": ("AP News", "https://apnews.com/article/nato-2", "2025-02-03", "003_856c997e904d8576.txt"),
    "crier.md": ("Town Crier", "https://news.example.org/zebra", "2024-12-20", None),
}
ZEBRA_TEXT = "The town council said the zebra crossing festival will close the high street on Saturday for the parade."


def write_sourced_corpus(folder: Path) -> Path:
    """Write `SOURCED_ARTICLES` into `folder` (created), for filters and channel scopes to tell apart."""
    folder.mkdir(parents=True)
    for name, (source, url, published, seed) in SOURCED_ARTICLES.items():
        body = (SEEDS / seed).read_text(encoding="utf-8") if seed else ZEBRA_TEXT
        folder.joinpath(name).write_text(
            f"---\ntitle: {source} report\nsource: {source}\nurl: {url}\npublished: {published}\n---\n{body}",
            encoding="utf-8",
        )
    return folder


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A private, editable copy of the seed articles."""
    target = tmp_path / "articles"
    shutil.copytree(SEEDS, target)
    return target


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a `newsbot` run with its own index folder and its own articles folder.

    Unless `NEWSBOT_ARTICLES_DIR` is given, the articles folder is a copy of the seeds in `tmp`:
    never the repository's seeds/, which `newsbot add` would write into.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    if "NEWSBOT_ARTICLES_DIR" not in extra:
        articles = tmp / "seeds"
        if not articles.exists():
            shutil.copytree(SEEDS, articles)
        extra = {"NEWSBOT_ARTICLES_DIR": str(articles), **extra}
    env.update(NEWSBOT_INDEX_DIR=str(tmp / "index"), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture
def cli_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], int]]:
    """`bot.cli.main` to call in-process, from a fresh folder: no developer's .env is loaded (main looks
    for one from the working folder up), and whatever main puts in os.environ is undone afterwards."""
    from bot.cli.main import main

    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    yield main
    os.environ.clear()
    os.environ.update(saved)


def newsbot(*args: str, env: dict[str, str], cwd: Path | None = None, input: str | None = None, timeout: float = 180):
    """Run the real `newsbot` command line and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd or ROOT,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- fetching from local test sites (tests/websites.py) --------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must never go through a proxy from the environment (use with `usefixtures`)."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def site():
    """A local web server on 127.0.0.1 for one test module."""
    from websites import Site

    web = Site()
    yield web
    web.server.shutdown()


@pytest.fixture
def corpus(tmp_path: Path, embedder: Embedder) -> Index:
    """An index over a private copy of the seeds, sharing the session's loaded model."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    index = make_index(tmp_path, embedder, articles)
    index.update(progress=False)
    return index


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (started once, stopped at the end)."""
    from pgserver import TestDatabases

    databases = TestDatabases()
    yield databases
    databases.stop()


@pytest.fixture
def database_url(postgres_server) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return postgres_server.fresh()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_settings(request) -> dict:
    """Settings that put an index (and the bot's state) in the index folder's SQLite, or in a real PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("database_url")}
