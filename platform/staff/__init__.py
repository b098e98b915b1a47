"""The county's staff: who holds which role, granted through events and confirmed by a second person."""
