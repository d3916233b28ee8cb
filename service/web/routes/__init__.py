"""One module per resource: decisions, offers, approvals, customers, policy, health."""
