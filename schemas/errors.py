"""marshmallow's error messages as the flat field paths problem documents name."""

from __future__ import annotations


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"order.value": ["..."]}."""
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "_body": list(messages)}
        messages = dict(enumerate(messages))
    if isinstance(messages, str):
        return {prefix or "_body": [messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
        for path, texts in flatten_errors(value, name).items():
            flat.setdefault(path, []).extend(texts)
    return flat
