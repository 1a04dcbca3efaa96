"""Data of proposals, plenum voting, the schedule grid, exports; its models arrive with its issue."""
