"""The domain: vocabulary, money, the incident, field types, the decision core and the grant
rule. Pure: no I/O, no Flask, SQLAlchemy, marshmallow or engine."""
