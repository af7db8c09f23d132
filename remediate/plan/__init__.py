"""The pure planner: live documents + desired files -> per-host changes, and how each takes effect."""
