"""HTTP: app factory, a route module per resource, presenters, error table, auth, OpenAPI."""
