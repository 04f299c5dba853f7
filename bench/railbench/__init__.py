"""Helpers of bench/startup.py: spawning, bundles, scenarios, statistics, reports."""
