"""The county's registry of officials and bodies (干部与组织名录): events, aggregates, doors, reads, pages."""
