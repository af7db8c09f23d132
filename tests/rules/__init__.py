"""Tests of the domain rules (remediate/rules)."""
