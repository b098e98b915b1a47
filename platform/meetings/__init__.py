"""The domain: reference data of a county, rounds, meetings, ballots, results."""
