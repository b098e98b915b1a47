"""The event log of a county: append-only storage, reading, the one repository, and the hash chain.

chain, types, shuping_verify(_build) and verify are plain Python (an auditor
runs the verifier, one standard-library zipapp, with no Django and no database); records, reading, store,
repository, export and grants use Django's connection to the county's schema.
"""
