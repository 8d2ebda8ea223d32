"""Background jobs: a scheduler and one module per job."""
