"""Who is calling: an id and the role whose limits apply (from credentials, never the body)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
