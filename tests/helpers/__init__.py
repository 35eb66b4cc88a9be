"""Helpers shared by several test packages (importable because tests/ is on sys.path)."""
