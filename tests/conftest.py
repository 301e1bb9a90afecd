"""Shared fixtures: the real model (loaded once per test session), the seeds, and CLI runners."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index import Embedder, Index, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NATO_QUESTION = "why did NATO expel the diplomats?"
OFF_TOPIC_QUESTION = "What is the recipe for banana bread?"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, shared by every in-process index of the session."""
    model = Embedder()
    model.encode(["load the model once"])
    return model


def make_index(tmp: Path, embedder: Embedder, articles: Path | None = None, **settings) -> Index:
    """An index in `tmp/index` over `articles` (default: the seeds), sharing the loaded model."""
    config = Settings(index_dir=tmp / "index", articles_dir=articles or SEEDS, **settings)
    return Index.open(settings=config, embedder=embedder, log=lambda message: None)


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """A private, editable copy of the seed articles."""
    target = tmp_path / "articles"
    shutil.copytree(SEEDS, target)
    return target


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a `newsbot` subprocess with its own index folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update(NEWSBOT_INDEX_DIR=str(tmp / "index"), NEWSBOT_ARTICLES_DIR=str(SEEDS), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


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
