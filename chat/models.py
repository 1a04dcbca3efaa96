"""Data of chat channels, messages, questions, votes, moderation; its models arrive with its issue."""
