"""The `cargohold` command line: one module per command group."""
