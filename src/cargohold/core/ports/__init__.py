"""Ports: the protocols and records core needs from the outside; metadata/, storage/ and adapters implement them."""
