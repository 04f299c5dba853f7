"""railcar: an OCI container runtime, a drop-in for runc."""

__version__ = "0.1.0"
SPEC_VERSION = "1.2.0"
