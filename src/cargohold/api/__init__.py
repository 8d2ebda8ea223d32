"""HTTP layer: parse the request, call a core service, render the response."""
