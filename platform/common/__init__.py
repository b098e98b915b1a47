"""The ground floor: what every other package may import, and which imports none of them.

refusal (the one "no" the platform says), county (the schema of the current
connection), api (the one error format and the API helpers), tokens (signed
scoped tokens for live subscriptions), limits (what a request may hold:
bounded JSON, no NUL or lone surrogate), paths (path converters for ids),
http_errors (Django's own errors in our format, request ids), china_time
(the one time zone every county keeps).
"""
