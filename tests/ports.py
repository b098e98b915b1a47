"""The port a server process that a test started is listening on: infra.ports (moved there, so
that infra/topology.py, which the hosted-topology test runs, uses the same function)."""

from infra.ports import listening_port

__all__ = ["listening_port"]
