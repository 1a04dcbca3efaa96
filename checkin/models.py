"""Data of tickets at the door; its models arrive with its issue."""
