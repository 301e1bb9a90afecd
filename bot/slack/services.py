"""What the Slack listeners share: one index, its answerer, the event claims and the command handlers."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import CollectLimits, FollowLimits
from bot.digests.commands import DigestCommands
from bot.digests.store import DigestStore
from bot.follows.commands import FollowCommands
from bot.follows.store import FollowStore
from bot.links.store import CollectingChannels, LinkQueue
from bot.slack.answering import Answerer
from bot.slack.channel_commands import ChannelCommands
from bot.slack.dedupe import EventClaims
from bot.slack.index_commands import IndexCommands
from bot.slack.reindex import Reindexer
from bot.state.assistant_threads import AssistantThreads
from bot.state.scopes import Scopes
from index import Index


@dataclass(frozen=True)
class Services:
    """Built once per process by `build`; every listener module's `register` takes it."""

    index: Index
    admins: frozenset[str]
    claims: EventClaims
    answers: Answerer
    scopes: Scopes
    follows: FollowCommands
    commands: ChannelCommands
    index_commands: IndexCommands
    collecting: CollectingChannels
    links: LinkQueue
    threads: AssistantThreads

    @classmethod
    def build(
        cls,
        index: Index,
        admins: frozenset[str],
        claims: EventClaims,
        reindexer: Reindexer,
        add_admins_only: bool = False,
        follow_store: FollowStore | None = None,
        digest_store: DigestStore | None = None,
        follow_limits: FollowLimits = FollowLimits(),
        collect_limits: CollectLimits = CollectLimits(),
    ) -> Services:
        """The listeners' shared objects over `index` (stores made here unless given)."""
        scopes, collecting = Scopes(index), CollectingChannels(index)
        follows = FollowCommands(follow_store or FollowStore(index), admins, follow_limits)
        digests = DigestCommands(digest_store or DigestStore(index))
        commands = ChannelCommands(scopes, follows, digests, collecting, admins)
        return cls(
            index, admins, claims, Answerer(index, scopes), scopes, follows, commands,
            IndexCommands(admins, reindexer, add_admins_only), collecting, LinkQueue(index, collect_limits),
            AssistantThreads(index),
        )
