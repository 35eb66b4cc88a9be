"""Tests of recurrence.indicators (a package so its module names cannot clash with tests/cli)."""
