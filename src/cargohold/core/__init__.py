"""Domain core: the registry's rules, with no HTTP and no SQL."""
