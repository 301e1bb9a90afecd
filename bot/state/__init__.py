"""The bot's tables beside the index (`schema`, for both engines) and the stores over them."""
