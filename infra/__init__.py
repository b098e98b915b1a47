"""The hosted deployment: the reverse proxy's configuration and the single-machine launcher (topology.py)."""
