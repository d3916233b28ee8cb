"""Policies: rule files read, checked and turned into a Policy model."""
