"""The policies shipped with Amends: `default` is the one served when no other is named."""
