"""The print of an incident body is the SHA-256 of the standard library's canonical text,
whichever encoder writes it (stored prints must still match after an upgrade)."""

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from service.store.fingerprints import canonical, of_incident

# What json.loads can give, floats and integers beyond 64 bits included, and text with
# control characters, non-ASCII letters, separators and unpaired surrogates.
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_LEAVES = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | _TEXT)
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=20)


def _standard(body) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@given(st.dictionaries(_TEXT, _VALUES, max_size=6))
def test_the_canonical_text_is_the_standard_librarys(body):
    try:
        expected = _standard(body)
    except UnicodeEncodeError:  # an unpaired surrogate: refused either way
        try:
            canonical(body)
        except UnicodeEncodeError:
            return
        raise AssertionError("an unpaired surrogate was accepted") from None
    assert canonical(body) == expected
    assert of_incident(body) == hashlib.sha256(expected).hexdigest()


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):  # deeper than orjson writes, not than the standard library
        value = [value]
    return value


def test_floats_huge_integers_and_deep_nesting_are_written_as_the_standard_library_does():
    for body in ({"a": 1e16, "b": [0.1, -2.5e-7]}, {"n": 2**65}, {"é": "\u2028\x7f\x1f"},
                 {"deep": [[[[[[[[1e-05]]]]]]]]}, {"t": (1e-05,)}, {"d": _nested(800)}):
        assert canonical(body) == _standard(body)


def test_key_order_and_spacing_do_not_change_the_print():
    assert of_incident(json.loads('{"b": 1, "a": {"y": 2, "x": [3]}}')) == \
        of_incident(json.loads('{"a":{"x":[3],"y":2},"b":1}'))
