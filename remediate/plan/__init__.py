"""The pure planner: live documents + desired files -> per-host changes; which settings are live, how each takes effect."""
