"""Newsbot for its users: the `newsbot` command (`cli`) and the Slack app (`slack`, `follows`, `digests`, `state`, `web`)."""
