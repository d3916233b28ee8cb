"""Use cases through a unit of work: decide, grant, approve, history, the active policy."""
