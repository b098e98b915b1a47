"""Counties as tenants: the County and its host names, provisioning, settings."""
