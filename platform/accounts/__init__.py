"""People who log in: platform operators (public schema) and county staff (county schema)."""
