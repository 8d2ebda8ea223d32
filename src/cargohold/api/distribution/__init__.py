"""The OCI distribution-spec v1.1 data plane (/v2/)."""
