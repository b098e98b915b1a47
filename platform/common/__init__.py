"""The ground floor: what every other package may import, and which imports none of them.

refusal (the one "no" the platform says), county (the schema of the current
connection), api (the one error format and the API helpers), tokens (signed
scoped tokens for live subscriptions).
"""
