"""The `newsbot` command line as a user runs it: index, ask (text, JSON, stdin), stats, errors, .env."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import NATO_QUESTION, OFF_TOPIC_QUESTION, cli_env, newsbot

from index.models.onnx_backend import has_vnni


def test_ask_builds_the_index_first_and_answers_in_json(tmp_path):
    env = cli_env(tmp_path)
    done = newsbot("ask", NATO_QUESTION, "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert "indexing" in done.stderr.lower()
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["question"] == NATO_QUESTION and result["abstained"] is False
    assert len(result["answers"]) == 3
    assert any("intelligence officers" in a["quote"] for a in result["answers"])
    answer = result["answers"][0]
    assert set(answer) == {
        "quote", "highlight", "score", "link", "start", "end", "highlight_start", "highlight_end",
        "excerpt", "excerpt_start", "excerpt_end", "article", "also_in",
    }
    assert set(answer["article"]) == {"id", "title", "source", "url", "published", "path"}
    text = open(answer["article"]["path"], encoding="utf-8").read()
    assert text[answer["start"] : answer["end"]] == answer["quote"]
    assert text[answer["highlight_start"] : answer["highlight_end"]] == answer["highlight"]
    assert text[answer["excerpt_start"] : answer["excerpt_end"]] == answer["excerpt"]


def test_ask_reads_questions_from_stdin_and_prints_readably(tmp_path):
    env = cli_env(tmp_path)
    assert newsbot("index", "--quiet", env=env).returncode == 0
    done = newsbot("ask", "-", "--json", "--k", "2", env=env, input=f"{NATO_QUESTION}\n\n{OFF_TOPIC_QUESTION}\n")
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["question"] for r in results] == [NATO_QUESTION, OFF_TOPIC_QUESTION]
    assert len(results[0]["answers"]) == 2 and results[1]["abstained"] is True
    human = newsbot("ask", OFF_TOPIC_QUESTION, env=env)
    assert "couldn't find that in the 2 indexed articles" in human.stdout
    human = newsbot("ask", NATO_QUESTION, env=env)
    assert human.stdout.count("seeds/") == 3
    # Not a terminal: the answering sentence is marked *like this* inside the quoted excerpt.
    first = json.loads(newsbot("ask", "--json", NATO_QUESTION, env=env).stdout)["answers"][0]
    assert "“" in human.stdout and f"*{' '.join(first['highlight'].split()[:3])}" in " ".join(human.stdout.split())


def test_question_errors(tmp_path):
    env = cli_env(tmp_path)
    empty = newsbot("ask", "  ", env=env)
    assert empty.returncode == 2 and "empty" in empty.stderr and len(empty.stderr.strip().splitlines()) == 1
    huge = newsbot("ask", "NATO diplomats " * 700, "--json", env=env)
    assert huge.returncode == 0, huge.stderr
    assert json.loads(huge.stdout)["answers"]
    bad_k = newsbot("ask", NATO_QUESTION, "--k", "0", env=env)
    assert bad_k.returncode == 2


def test_index_summary_stats_and_exit_codes(tmp_path):
    env = cli_env(tmp_path)
    done = newsbot("index", env=env)
    assert done.returncode == 0
    assert done.stdout.strip().startswith("2 added, 0 updated, 0 removed, 0 unchanged, 0 skipped;")
    assert "Embedding" in done.stderr  # the progress bar
    again = newsbot("index", env=env)
    assert "0 added, 0 updated, 0 removed, 2 unchanged" in again.stdout and "(0 embedded)" in again.stdout
    stats = newsbot("stats", "--json", env=env)
    data = json.loads(stats.stdout)
    assert data["articles"] == 2 and data["passages"] >= 4
    assert data["model"] == "all-MiniLM-L6-v2@onnx-int8" + ("" if has_vnni() else "-r7")  # auto: int8 for a new index
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    nothing = newsbot("index", str(bad), env=cli_env(tmp_path / "other"))
    assert nothing.returncode == 1
    assert "empty.txt: empty file" in nothing.stderr and "1 skipped" in nothing.stdout


def test_settings_come_from_dotenv(tmp_path):
    (tmp_path / ".env").write_text(f"NEWSBOT_INDEX_DIR={tmp_path / 'from-dotenv'}\nNEWSBOT_ARTICLES_DIR=does-not-exist\n")
    env = cli_env(tmp_path)
    del env["NEWSBOT_INDEX_DIR"], env["NEWSBOT_ARTICLES_DIR"]
    done = newsbot("index", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "does-not-exist: no such file or folder" in done.stderr
    assert (tmp_path / "from-dotenv").is_dir()
    broken = newsbot("stats", env={**env, "NEWSBOT_MAX_ARTICLE_BYTES": "lots"}, cwd=tmp_path)
    assert broken.returncode == 2 and "NEWSBOT_MAX_ARTICLE_BYTES" in broken.stderr


def test_eval_scores_the_users_own_questions(tmp_path):
    env = cli_env(tmp_path)
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"question": NATO_QUESTION, "answer": "intelligence officers"}) + "\n"
        + json.dumps({"question": "Which nerve agent poisoned Sergei Skripal?", "answer": "Novichok"}) + "\n"
        + json.dumps({"question": "What did NATO cut the Russian mission to?", "answer": "no such phrase anywhere"}) + "\n"
        + json.dumps({"question": "Why did NATO expel Russian diplomats this week?", "answer": "intelligence officers", "date": "2021-10-08"})
        + "\n"
    )
    assert newsbot("index", "--quiet", env=env).returncode == 0
    done = newsbot("eval", str(questions), "--json", env=env)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["questions"] == 4
    assert metrics["hits@10"] == round(3 / 4, 3)
    assert 0 < metrics["mrr@10"] <= metrics["hits@10"]
    table = newsbot("eval", str(questions), env=env)
    assert "| newsbot |" in table.stdout and "MRR@10" in table.stdout
    questions.write_text('{"question": "no answer given"}\n')
    bad = newsbot("eval", str(questions), env=env)
    assert bad.returncode == 2 and "questions.jsonl:1" in bad.stderr
    questions.write_text(json.dumps({"question": "Who was expelled this week?", "answer": "NATO", "date": "last week"}))
    bad = newsbot("eval", str(questions), env=env)
    assert bad.returncode == 2 and "questions.jsonl:1" in bad.stderr and "date" in bad.stderr


def test_a_different_model_than_the_index_was_built_with_is_a_clear_error(tmp_path):
    env = cli_env(tmp_path)
    assert newsbot("index", "--quiet", env=env).returncode == 0
    from index.models.embedder import model_path

    other = tmp_path / "another-model"  # a model folder that loads fine, but is not the one the index used
    other.symlink_to(model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    done = newsbot("ask", NATO_QUESTION, env={**env, "NEWSBOT_EMBEDDING_MODEL": str(other)})
    assert done.returncode == 1
    assert "built with the embedding model 'all-MiniLM-L6-v2@onnx-int8" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_cli_env_gives_each_test_its_own_copy_of_the_seeds(tmp_path):
    """`newsbot add` writes into the articles folder: a test must never point it at the repository's seeds/."""
    from conftest import SEEDS

    articles = Path(cli_env(tmp_path)["NEWSBOT_ARTICLES_DIR"])
    assert articles != SEEDS and articles.is_relative_to(tmp_path)
    assert sorted(p.name for p in articles.iterdir()) == sorted(p.name for p in SEEDS.iterdir())
    assert cli_env(tmp_path, NEWSBOT_ARTICLES_DIR="/elsewhere")["NEWSBOT_ARTICLES_DIR"] == "/elsewhere"
