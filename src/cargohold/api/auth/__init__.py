"""Docker token authentication: /oauth2/token, /oauth2/exchange, and credentials on requests."""
