"""Adapters: implementations of core ports that need a third-party library (outbound HTTP on httpx)."""
