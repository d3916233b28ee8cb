"""The durable_rules engine, behind one adapter that makes its defects unreachable."""
