"""Use cases (decide and record, grant, approvals, outcomes, history, the active policy),
through a unit of work: no SQL text, no JSON."""
