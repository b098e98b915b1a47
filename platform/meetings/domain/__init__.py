"""The meeting core in plain Python: rules, the meeting aggregate, the tally.

Nothing here imports Django (a unit test holds that): the same code decides
commands in the web process and recomputes results for an auditor offline.
"""
