"""The doors of the county's staff (`grants`: one `check_<action>` per command)."""
