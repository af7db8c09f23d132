"""Every text and JSON view of a run, metrics, and the one exit-code policy."""
