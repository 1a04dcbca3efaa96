"""Data of the main stage; its models arrive with its issue."""
