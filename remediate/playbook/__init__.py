"""Playbooks: their schema, template rendering, and target selection (plays x hosts, shards)."""
