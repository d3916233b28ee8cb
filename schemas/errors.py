"""marshmallow's error messages as the flat field paths problem documents name."""

from __future__ import annotations


def flatten_errors(messages, prefix: str | None = None) -> dict[str, list[str]]:
    """marshmallow's nested messages as {"order.value": ["..."]}; the whole body's (or
    query's) own as `_body`. A name given empty (`{"": 1}`, `?=1`) is named "", not `_body`."""
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return {"_body" if prefix is None else prefix: list(messages)}
        messages = dict(enumerate(messages))
    if isinstance(messages, str):
        return {"_body" if prefix is None else prefix: [messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        # A context fact's own messages: marshmallow files a Dict's under "key" and "value".
        own = key == "_schema" or (key in ("key", "value") and prefix is not None
                                   and prefix.startswith("context."))
        name = prefix if own else str(key) if prefix is None else f"{prefix}.{key}"
        for path, texts in flatten_errors(value, name).items():
            flat.setdefault(path, []).extend(texts)
    return flat
