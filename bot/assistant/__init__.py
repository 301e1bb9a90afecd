"""The assistant pane's own content: its greeting, the prompts it suggests and the day's stories."""
