"""The doors: every write to a round or a meeting enters through a `check_<action>` function here.

One module per subject: rounds, setup (schedule, announce), conduct (the
meeting in the hall), codes, ballots (open, cast, close, results), paper
(teller batches), reference (the county's directory), registry (its
officials and bodies, meetings.registry). Each door takes the
actor and keyword arguments, authorizes against the one role policy
(accounts.roles), validates, lets the plain-Python aggregate decide, and
appends through the one repository (events.repository). Views, consumers,
the CLI and the demo call these and nothing else; `grep "def check_"` lists
exactly the doors.
"""
