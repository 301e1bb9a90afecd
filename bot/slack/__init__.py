"""The Slack surface: the bolt app, its listeners by kind, and how questions, answers and buttons are read and written."""
