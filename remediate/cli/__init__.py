"""The command line: thin typed commands over the core. Only this package prints or exits."""
