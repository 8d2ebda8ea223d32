"""Blob storage drivers behind one small protocol."""
