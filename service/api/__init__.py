"""The HTTP API: thin Flask views around the decision core."""
