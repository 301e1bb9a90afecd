"""NEWSBOT_DATABASE_URL: what it must look like, and what of it may be shown — never its password.

`redacted` is the one function every message and log line about a database setting goes through, whatever form
the setting takes (a postgresql:// URL with `user:password@` or `?password=`, a `key=value` connection string, a
bare `user:password@host`, something malformed), and libpq's own error messages go through it too, since libpq
quotes what it cannot parse.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

SCHEMES = ("postgresql://", "postgres://")
MAX_SHOWN_CHARS = 200  # of a setting echoed in a message: a pasted megabyte is not repeated into every log
# `password=value` in a connection string or a URL's query (a quoted value as libpq writes one), and the
# password of `user:password@` wherever it stands (greedy: a password may hold an @).
# An unquoted value runs to whitespace or the next query parameter, a backslash escaping the next character.
_PASSWORD_PARAM = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\"[^\"]*\"|(?:[^\s&\\]|\\.)*)")
_USERINFO = re.compile(r"([^\s/:@'\"]*:)[^\s/'\"]*@")


def secrets_in(setting: str) -> set[str]:
    """Every password `setting` holds, as written and percent-decoded (libpq may quote either; it decodes a
    query parameter's name too, so `?pass%77ord=` is a password)."""
    found: set[str] = set()
    for form in {setting, unquote(setting)}:
        found |= {m.group(2).strip("'\"") for m in _PASSWORD_PARAM.finditer(form)}
        found |= {m.group(0)[len(m.group(1)) : -1] for m in _USERINFO.finditer(form)}
        # user:password@ as libpq reads it: whatever stands between the scheme (if any) and the last @, after
        # the first colon; spaces, quotes and slashes included (over-hiding a port is better than a password).
        head = form.split("://", 1)[1] if "://" in form else form
        if "@" in head and ":" in head[: head.rfind("@")]:
            found.add(head[: head.rfind("@")].split(":", 1)[1])
    found |= _parsed_password(setting)
    found |= {unquote(secret) for secret in found}
    return {secret.strip() for secret in found if secret.strip()}


def _parsed_password(setting: str) -> set[str]:
    """The password libpq itself reads from `setting` (nothing when it cannot parse it)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(setting).get("password")
    except Exception:  # unparsable: the patterns above are all there is
        return set()
    return {str(password)} if password else set()


def redacted(text: str, setting: str | None = None) -> str:
    """`text` with the passwords of `setting` (every form) and anything shaped like a password replaced by ***."""
    for secret in sorted(secrets_in(setting or text), key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, "***")
        else:  # a short one only where it stands alone: "ab" must not take every "ab" of a message with it
            text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", "***", text)
    text = _PASSWORD_PARAM.sub(lambda m: m.group(1) + "***", text)
    return _USERINFO.sub(lambda m: m.group(1) + "***@", text)


def shown_database_url(setting: str) -> str:
    """The setting as messages and logs may show it: its passwords replaced by ***, cut to a readable length."""
    shown = redacted(setting)
    return shown if len(shown) <= MAX_SHOWN_CHARS else shown[: MAX_SHOWN_CHARS - 1] + "…"


def check_database_url(url: str) -> str:
    """`url` if it names a PostgreSQL database, else a `ValueError` saying what is expected (its password never shown)."""
    if not url.startswith(SCHEMES):
        raise ValueError(f"NEWSBOT_DATABASE_URL must start with postgresql://, got {shown_database_url(url)!r}")
    return url
