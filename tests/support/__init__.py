"""Helpers shared by railcar's test suites."""
