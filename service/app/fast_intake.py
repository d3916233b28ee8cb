"""A fast path for the well-formed incident body, compiled from IncidentSchema itself.

Issue 14 asks for one declaration of the incident's rules. This module declares none of its
own: at import it walks IncidentSchema's fields and uses their validators (Length, Regexp,
OneOf, Range), their required flags, the schema-level checks (`amounts_fit_currency`,
`one_measure`) and the schema's `post_load` (`to_incident`) as they are. All it adds is a
plain type test per field class, each at least as strict as the marshmallow field it stands
for (a money string is still read by `parse_amount`, text still checked by `text_fault`).

`read_incident` answers an Incident only for a body it fully accepts; for anything else it
answers None and the caller asks marshmallow, which gives the error messages. So the
agreement needed is one way: whatever it accepts, marshmallow accepts and builds the same
Incident (tests/app/test_fast_intake.py checks this by differential fuzzing). A schema that
uses something it does not know (another field class, a data_key, a default, a field-level
hook, unknown=INCLUDE...) compiles to no fast path at all (`READER is None`) rather than to
a guess; the test suite insists the shipped schema compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from marshmallow import RAISE, Schema, fields
from marshmallow.utils import missing

from schemas.fields import (
    ISO_DATE,
    FlexibleDate,
    MoneyAmount,
    StrictBoolean,
    StrictInteger,
    StrictString,
)
from schemas.incident import IncidentSchema
from service.domain.fields import text_fault
from service.domain.incident import Incident
from service.domain.money import parse_amount

Reader = Callable[[object], object]
_HOOKS = {"validates_schema", "post_load", "pre_dump", "post_dump"}  # hooks it can honour


class Unsupported(Exception):
    """The schema uses something the fast path does not reproduce."""


class _Decline(Exception):
    """This body is for marshmallow to judge."""


def _validated(read: Reader, validators: list) -> Reader:
    if not validators:
        return read

    def check(value: object) -> object:
        output = read(value)
        for validator in validators:  # as marshmallow's And: False or an error refuses
            if validator(output) is False:
                raise _Decline
        return output
    return check


def _string(value: object) -> str:
    if type(value) is not str or text_fault(value):
        raise _Decline
    return value


def _plain_string(value: object) -> str:
    if type(value) is not str:
        raise _Decline
    return value


def _money(value: object):
    if type(value) is not str:
        raise _Decline
    return parse_amount(value)  # MoneyError declines


def _integer(value: object) -> int:
    if type(value) is not int:  # not bool, not an int subclass
        raise _Decline
    return value


def _boolean(value: object) -> bool:
    if type(value) is not bool:
        raise _Decline
    return value


def _date(value: object) -> date:
    if type(value) is not str or not ISO_DATE.fullmatch(value):
        raise _Decline
    return date.fromisoformat(value)


def _raw(value: object) -> object:
    if value is None:
        raise _Decline
    return value


_LEAVES: dict[type, Reader] = {
    StrictString: _string, MoneyAmount: _money, StrictInteger: _integer,
    StrictBoolean: _boolean, FlexibleDate: _date, fields.String: _plain_string,
    fields.Raw: _raw,
}


def _field(field: fields.Field, name: str) -> Reader:
    if (field.data_key is not None or field.attribute is not None or field.dump_only
            or field.load_default is not missing or field.pre_load or field.post_load):
        raise Unsupported(name)
    kind = type(field)  # exact: a subclass may read values its own way
    if kind in _LEAVES:
        if kind is FlexibleDate and field.format not in (None, "iso", "iso8601"):
            raise Unsupported(name)
        read = _LEAVES[kind]
    elif kind is fields.Nested:
        if field.many or field.only or field.exclude or field.unknown not in (None, RAISE):
            raise Unsupported(name)
        read = compile_schema(field.schema, name)
    elif kind is fields.Dict:
        read = _mapping(_field(field.key_field, f"{name}.<key>"),
                        _field(field.value_field, f"{name}.<value>"))
    else:
        raise Unsupported(f"{name}: {kind.__name__}")
    return _validated(read, list(field.validators))


def _mapping(read_key: Reader, read_value: Reader) -> Reader:
    def read(value: object) -> dict:
        if type(value) is not dict:
            raise _Decline
        return {read_key(key): read_value(item) for key, item in value.items()}
    return read


def compile_schema(schema: Schema, name: str = "") -> Reader:
    """A reader of one object of `schema`, or Unsupported."""
    if schema.many or schema.partial or schema.unknown != RAISE or schema.only or schema.exclude:
        raise Unsupported(name or type(schema).__name__)
    if set(schema._hooks) - _HOOKS:
        raise Unsupported(f"{name}: hooks {sorted(set(schema._hooks) - _HOOKS)}")
    hooks = {}
    for tag in ("validates_schema", "post_load"):
        hooks[tag] = []
        for attr, many, kwargs in schema._hooks.get(tag, ()):
            if many or kwargs.get("pass_original"):
                raise Unsupported(f"{name}: {attr}")
            hooks[tag].append(getattr(schema, attr))
    validators, post_loads = hooks["validates_schema"], hooks["post_load"]
    readers = {key: _field(field, f"{name}.{key}".lstrip("."))
               for key, field in schema.load_fields.items()}
    required = frozenset(key for key, field in schema.load_fields.items() if field.required)

    def read(value: object) -> object:
        if type(value) is not dict:
            raise _Decline
        data = {key: readers[key](item) for key, item in value.items()}  # KeyError: unknown
        if not required <= data.keys():
            raise _Decline
        for validator in validators:  # ValidationError declines
            validator(data, partial=None, many=False, unknown=RAISE)
        for post_load in post_loads:
            data = post_load(data, many=False, partial=None, unknown=RAISE)
        return data
    return read


def _compile() -> Reader | None:
    try:
        return compile_schema(IncidentSchema())
    except Unsupported:
        return None


READER = _compile()


def read_incident(payload: object) -> Incident | None:
    """The Incident marshmallow would load from `payload`, or None to leave it to marshmallow."""
    if READER is None:
        return None
    try:
        incident = READER(payload)
    except Exception:  # any doubt at all goes to marshmallow, which decides
        return None
    return incident if type(incident) is Incident else None
