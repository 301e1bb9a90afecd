"""Links people share in channels that collect them: found in messages, queued, fetched and indexed."""
