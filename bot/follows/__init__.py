"""Follows: saved questions whose new answers are posted in their channel (store, matching worker, commands, blocks)."""
