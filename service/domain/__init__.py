"""Pure domain: vocabulary, money, incident, field types, decision core, grant rule; no I/O."""
