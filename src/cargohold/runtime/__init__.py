"""State shared by the worker processes of one host (outside the database)."""
