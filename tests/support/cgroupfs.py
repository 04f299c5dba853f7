"""Removing the cgroup directories a test made (sub-cgroups first), for every test suite."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def remove_cgroups(paths: Iterable[Path]) -> list[str]:
    """rmdir each directory and everything below it, deepest first; the errors, as text."""
    errors = []
    for p in sorted(paths, key=lambda x: -len(x.parts)):
        for sub in [*sorted((q for q in p.rglob("*") if q.is_dir()), key=lambda x: -len(x.parts)), p]:
            try:
                sub.rmdir()
            except FileNotFoundError:
                pass
            except OSError as e:
                errors.append(f"rmdir {sub}: {e.strerror}")
    return errors
