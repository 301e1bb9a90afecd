"""The HTTP server: Slack's requests (checked before bolt sees them), the health check and the article page."""
