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
        # A context fact's own messages: marshmallow files a Dict's under "key" and "value".
        own = key == "_schema" or (key in ("key", "value") and prefix.startswith("context."))
        name = prefix if own else f"{prefix}.{key}" if prefix else str(key)
        for path, texts in flatten_errors(value, name).items():
            flat.setdefault(path, []).extend(texts)
    return flat
