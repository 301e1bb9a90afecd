"""The bot's tables beside the index (event claims, channel scopes, follows, digests, feedback), as migrations
for each engine: the one place they are defined. Its stores write portable SQL against them (`tables`)."""

from __future__ import annotations

from index import Migration, Schema

SQLITE = (
    Migration(
        1,
        "bot state",
        # IF NOT EXISTS: a folder from before versioned parts has these tables already, in this very shape.
        """CREATE TABLE IF NOT EXISTS event_claims (
               event_id TEXT PRIMARY KEY,
               claimed_at REAL NOT NULL,  -- seconds since the epoch, by the clock of the process that claimed
               answered INTEGER NOT NULL DEFAULT 0
           );
           CREATE INDEX IF NOT EXISTS event_claims_claimed_at ON event_claims(claimed_at);
           CREATE TABLE IF NOT EXISTS channel_scopes (
               channel TEXT PRIMARY KEY,
               filters TEXT NOT NULL,
               set_by TEXT,
               set_at TEXT NOT NULL
           );
           CREATE TABLE IF NOT EXISTS follows (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               channel TEXT NOT NULL,
               question TEXT NOT NULL,
               created_by TEXT,
               created_at TEXT NOT NULL,
               seen INTEGER NOT NULL  -- the last arrival (the index's arrivals seq) matched against this follow
           );
           CREATE INDEX IF NOT EXISTS follows_channel ON follows(channel);
           CREATE TABLE IF NOT EXISTS follow_posts (
               follow_id INTEGER NOT NULL,
               article_id TEXT NOT NULL,
               state TEXT NOT NULL,  -- owed, posting, posted, folded (reported by another story's post), summarised
               story TEXT,  -- the message to post, as JSON (None for folded articles)
               score REAL NOT NULL DEFAULT 0,
               created_at TEXT NOT NULL,
               claimed_at TEXT,
               posted_at TEXT,
               PRIMARY KEY (follow_id, article_id)
           );
           CREATE INDEX IF NOT EXISTS follow_posts_state ON follow_posts(state, follow_id);
           CREATE TABLE IF NOT EXISTS digests (
               channel TEXT PRIMARY KEY,
               cadence TEXT NOT NULL,  -- daily or weekly
               weekday TEXT,  -- mon..sun for weekly
               at_time TEXT NOT NULL,  -- HH:MM in `zone`
               zone TEXT NOT NULL,
               topic TEXT NOT NULL DEFAULT '',
               skip_empty INTEGER NOT NULL DEFAULT 0,
               set_by TEXT,
               set_at TEXT NOT NULL,
               last_due TEXT NOT NULL,  -- the latest scheduled time handled (UTC ISO); a new digest starts at its creation
               last_seq INTEGER NOT NULL,  -- the last article arrival (the index's arrivals seq) a digest covered
               claimed_at TEXT  -- while a process sends the due digest; a claim older than CLAIM_TIMEOUT was a crash
           );
           CREATE TABLE IF NOT EXISTS feedback (
               id INTEGER PRIMARY KEY,
               created_at TEXT NOT NULL,
               user TEXT,
               question TEXT NOT NULL,
               passages TEXT NOT NULL,
               vote TEXT NOT NULL
           );""",
    ),
    # A follow whose channel refuses the bot's posts (not_in_channel, channel_not_found, is_archived) is paused
    # with the reason, no longer matched, until `/news resume` (issue 27).
    Migration(2, "paused follows", "ALTER TABLE follows ADD COLUMN paused TEXT"),
    # Issue 29: the assistant pane's threads (the channel each is viewed beside), the channels whose shared links
    # are collected, and the queue of those links, shared by every process and kept across restarts.
    Migration(3, "assistant threads and collected links", """CREATE TABLE assistant_threads (
               channel_id TEXT NOT NULL,  -- the DM of the pane
               thread_ts TEXT NOT NULL,
               user_id TEXT,
               context TEXT NOT NULL,  -- Slack's assistant_thread.context, as JSON (the channel viewed beside it)
               titled INTEGER NOT NULL DEFAULT 0,  -- the thread has its title (from its first question)
               updated_at REAL NOT NULL,
               PRIMARY KEY (channel_id, thread_ts)
           );
           CREATE TABLE collect_channels (channel TEXT PRIMARY KEY, set_by TEXT, set_at TEXT NOT NULL);
           CREATE TABLE shared_links (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               channel TEXT NOT NULL,
               message_ts TEXT NOT NULL,  -- the message the link was shared in (its reaction goes there)
               url TEXT NOT NULL,
               state TEXT NOT NULL,  -- queued, fetching, indexed, skipped (not an article), failed
               attempts INTEGER NOT NULL DEFAULT 0,
               queued_at REAL NOT NULL,  -- seconds since the epoch, as every time here
               not_before REAL NOT NULL,  -- a transient failure waits before the next attempt
               claimed_at REAL,
               done_at REAL,
               reason TEXT,
               UNIQUE (channel, message_ts, url)
           );
           CREATE INDEX shared_links_state ON shared_links(state, not_before);
           CREATE INDEX shared_links_channel_claimed ON shared_links(channel, claimed_at);"""),
    # Every claim (each process, every few seconds) purges old rows and counts each channel's recent claims:
    # without these, both scan the table, which keeps 30 days of links.
    Migration(4, "collected links' purge and rate indexes", """CREATE INDEX shared_links_done ON shared_links(done_at);
           CREATE INDEX shared_links_claimed ON shared_links(claimed_at);"""),
)

POSTGRES = (
    # IF NOT EXISTS: a database from before versioned parts has these tables already (its steps 1 and 3).
    Migration(
        1,
        "event claims",
        """CREATE TABLE IF NOT EXISTS event_claims (
               event_id text PRIMARY KEY,
               claimed_at timestamptz NOT NULL,
               answered boolean NOT NULL DEFAULT false
           );
           CREATE INDEX IF NOT EXISTS event_claims_claimed_at ON event_claims (claimed_at);""",
    ),
    Migration(
        2,
        "bot state",
        """CREATE TABLE IF NOT EXISTS channel_scopes (channel text PRIMARY KEY, filters text NOT NULL, set_by text, set_at text NOT NULL);
           CREATE TABLE IF NOT EXISTS follows (
               id bigserial PRIMARY KEY,
               channel text NOT NULL,
               question text NOT NULL,
               created_by text,
               created_at text NOT NULL,
               seen bigint NOT NULL
           );
           CREATE INDEX IF NOT EXISTS follows_channel ON follows (channel);
           CREATE TABLE IF NOT EXISTS follow_posts (
               follow_id bigint NOT NULL,
               article_id text NOT NULL,
               state text NOT NULL,
               story text,
               score double precision NOT NULL DEFAULT 0,
               created_at text NOT NULL,
               claimed_at text,
               posted_at text,
               PRIMARY KEY (follow_id, article_id)
           );
           CREATE INDEX IF NOT EXISTS follow_posts_state ON follow_posts (state, follow_id);
           CREATE TABLE IF NOT EXISTS digests (
               channel text PRIMARY KEY,
               cadence text NOT NULL,
               weekday text,
               at_time text NOT NULL,
               zone text NOT NULL,
               topic text NOT NULL DEFAULT '',
               skip_empty integer NOT NULL DEFAULT 0,
               set_by text,
               set_at text NOT NULL,
               last_due text NOT NULL,
               last_seq bigint NOT NULL,
               claimed_at text
           );
           CREATE TABLE IF NOT EXISTS feedback (
               id bigserial PRIMARY KEY,
               created_at text NOT NULL,
               "user" text,
               question text NOT NULL,
               passages text NOT NULL,
               vote text NOT NULL
           );""",
    ),
    # One claims store for both engines (`claims`): seconds since the epoch, as on SQLite. The lease (two
    # minutes) tolerates the skew between machines that NTP leaves (milliseconds).
    Migration(
        3,
        "event claims timed by the claiming process",
        "ALTER TABLE event_claims ALTER COLUMN claimed_at TYPE double precision USING extract(epoch FROM claimed_at)",
    ),
    Migration(4, "paused follows", "ALTER TABLE follows ADD COLUMN IF NOT EXISTS paused text"),
    Migration(5, "assistant threads and collected links", """CREATE TABLE IF NOT EXISTS assistant_threads (
               channel_id text NOT NULL,
               thread_ts text NOT NULL,
               user_id text,
               context text NOT NULL,
               titled boolean NOT NULL DEFAULT false,
               updated_at double precision NOT NULL,
               PRIMARY KEY (channel_id, thread_ts)
           );
           CREATE TABLE IF NOT EXISTS collect_channels (channel text PRIMARY KEY, set_by text, set_at text NOT NULL);
           CREATE TABLE IF NOT EXISTS shared_links (
               id bigserial PRIMARY KEY,
               channel text NOT NULL,
               message_ts text NOT NULL,
               url text NOT NULL,
               state text NOT NULL,
               attempts integer NOT NULL DEFAULT 0,
               queued_at double precision NOT NULL,
               not_before double precision NOT NULL,
               claimed_at double precision,
               done_at double precision,
               reason text,
               UNIQUE (channel, message_ts, url)
           );
           CREATE INDEX IF NOT EXISTS shared_links_state ON shared_links (state, not_before);
           CREATE INDEX IF NOT EXISTS shared_links_channel_claimed ON shared_links (channel, claimed_at);"""),
    Migration(6, "collected links' purge and rate indexes", """CREATE INDEX IF NOT EXISTS shared_links_done ON shared_links (done_at);
           CREATE INDEX IF NOT EXISTS shared_links_claimed ON shared_links (claimed_at);"""),
)

BOT_SCHEMA = Schema("bot", SQLITE, POSTGRES)
