"""The article page in a real headless browser: a link from an answer lands with the answering
sentence in view, marked more strongly than the quoted passage around it.

Needs Debian's chromium and chromium-driver (the README's test command installs them) and selenium.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from botkit import BOT_TOKEN, NATO_QUESTION, NEWSBOT, BotProcess, bot_corpus, clean_env, request  # noqa: F401  (bot_corpus is a fixture)
from fakeslack import FakeSlack
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# The question whose answer sits at the end of a long article: the page must scroll to it.
LATE_QUESTION = "What happened at the ammunition depot in the Czech Republic?"


@pytest.fixture(scope="module")
def bot(bot_corpus, tmp_path_factory):  # noqa: F811
    fake = FakeSlack.start(BOT_TOKEN)
    process = BotProcess(bot_corpus, fake, tmp_path_factory.mktemp("page"))
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
        fake.close()


@pytest.fixture(scope="module")
def browser():
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            pytest.fail(f"{program} is missing: install Debian's chromium and chromium-driver (see README)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1024,700",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _answer(bot, corpus, question: str) -> dict:
    """The first answer as `newsbot ask --json` gives it, against the bot's own index and public url."""
    done = subprocess.run(
        [*NEWSBOT, "ask", "--json", question],
        env=clean_env(NEWSBOT_INDEX_DIR=str(corpus.index_dir), NEWSBOT_PUBLIC_URL=bot.url),
        capture_output=True, text=True, timeout=300, check=True,
    )
    return json.loads(done.stdout)["answers"][0]


@pytest.mark.parametrize("question", [NATO_QUESTION, LATE_QUESTION])
def test_the_answering_sentence_is_in_view_and_marked_more_strongly(bot, bot_corpus, browser, question):  # noqa: F811
    answer = _answer(bot, bot_corpus, question)
    assert answer["link"].startswith(f"{bot.url}/articles/") and answer["link"].endswith("#answer")
    browser.get(answer["link"])
    mark = browser.find_element(By.ID, "answer")
    assert mark.text == " ".join(answer["highlight"].split())  # the browser folds whitespace
    top, bottom, height = browser.execute_script(
        "const r = document.getElementById('answer').getBoundingClientRect(); return [r.top, r.bottom, innerHeight];"
    )
    assert 0 <= top and bottom <= height, f"sentence at {top}-{bottom}px of a {height}px window"
    passage = mark.find_element(By.XPATH, "ancestor::span[contains(@class, 'passage')]")
    assert "quoted" in passage.get_attribute("class")
    colour = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", mark)
    around = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", passage)
    weight = browser.execute_script("return getComputedStyle(arguments[0]).fontWeight", mark)
    assert colour != around and int(weight) >= 600


def test_forged_spans_show_the_plain_page(bot, bot_corpus):  # noqa: F811
    answer = _answer(bot, bot_corpus, NATO_QUESTION)
    base = answer["link"].split("?", 1)[0]
    for query in ("?p=0-999999999&h=0-5", "?p=abc&h=1-2", "?h=5-1", "?p=<script>&h=%00"):
        page = request("GET", base + query + "#answer")
        assert page.status == 200 and 'id="answer"' not in page.body and "<script>" not in page.body
