"""The Ansible inventory: sources (INI, YAML, scripts, JSON), builder, variables and host patterns."""
