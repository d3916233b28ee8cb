"""The compiler to durable_rules rulesets and the adapter that runs them safely."""
