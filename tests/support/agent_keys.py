"""API key files of their own for tests that need many distinct principals (each with its own
daily budget), in the format of config/dev-api-keys.yaml."""

import hashlib
import secrets
from collections.abc import Mapping
from pathlib import Path

import yaml


def write_key_file(path: Path, roles: Mapping[str, str]) -> dict[str, str]:
    """Write a key file giving each principal of `roles` (principal -> role) a fresh random
    key; the plain keys, by principal."""
    keys = {principal: f"{principal}-{secrets.token_hex(16)}" for principal in roles}
    entries = [{"principal": principal, "role": role,
                "sha256": hashlib.sha256(keys[principal].encode()).hexdigest()}
               for principal, role in roles.items()]
    path.write_text(yaml.safe_dump({"keys": entries}, sort_keys=False), encoding="utf-8")
    return keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
