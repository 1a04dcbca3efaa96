"""Data of breakout rooms; its models arrive with its issue."""
