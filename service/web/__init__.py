"""The HTTP API: app factory, one route module per resource, presenters, the errors table,
auth, OpenAPI and the access log."""
