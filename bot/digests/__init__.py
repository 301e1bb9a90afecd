"""Digests: each channel's scheduled summary of the stories since the last one (schedules, sender, commands)."""
