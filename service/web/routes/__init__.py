"""One module per resource: decisions and the audit log of them (decision_log), offers,
approvals, customers, policy, versions, replay, reports, me and health; and page, the policy
owners' page."""
