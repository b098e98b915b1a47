"""A tenant app used only by tests/integration/test_parallel_migrate.py: one real migration to apply to every county."""
