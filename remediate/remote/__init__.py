"""Talking to hosts: connections, host trust, the gather round trip, probes, Redis over SSH, host scripts."""
