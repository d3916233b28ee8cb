"""`amends policy test --update`: the expectations of failing tests rewritten to what the policy
now decides, in place in tests.yaml.

Only the keys a failing test already checks, and of those only the ones that fail, get new
values; an expected offer keeps the fields it lists. The file is edited as text at the spans
the YAML parser reports for each value, so comments, order, quoting and line breaks of
everything else stay as they were. The new text is parsed again before it is offered: every
test must read as before but for the rewritten keys, and those must now pass.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml
from marshmallow import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas.policy_files import ExpectSchema, PolicyTestSchema
from service.domain.decision import Decision
from service.domain.vocabulary import OfferSource, OfferVariant, StepName
from service.policy.model import PolicyTest
from service.policy.self_test import TestResult, compare
from service.policy.yaml_lines import load_yaml

WIDTH = 100  # flow collections are wrapped to stay within this many columns
OFFER_FIELDS = ("remedy", "variant", "source", "value", "percent", "approval", "approver_role")


class UpdateFailed(Exception):
    """The rewrite could not be made safely: nothing is written."""


@dataclass(frozen=True)
class Rewrite:
    test: PolicyTest
    changes: dict  # expect key -> its new value


@dataclass(frozen=True)
class UpdatePlan:
    """The rewrite of one tests file: its text before and after, and what changes in it."""

    file: str
    old_text: str
    new_text: str
    rewrites: tuple[Rewrite, ...]
    skipped: tuple[tuple[TestResult, str], ...]  # failing tests left alone, and why

    def diff(self) -> str:
        name = self.file
        return "".join(difflib.unified_diff(self.old_text.splitlines(keepends=True),
                                            self.new_text.splitlines(keepends=True),
                                            fromfile=f"{name} (now)",
                                            tofile=f"{name} (rewritten)"))

    def write(self) -> None:
        """Write the new text, unless someone changed the file since it was read."""
        path = Path(self.file)
        if path.read_bytes().decode("utf-8") != self.old_text:
            raise UpdateFailed(f"{self.file} changed while the rewrite was prepared; "
                               "nothing written, run it again")
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(self.new_text)
            os.chmod(temporary, path.stat().st_mode & 0o7777)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


# --- what the policy now decides, for the keys a test checks -----------------------------


def expected_now(test: PolicyTest, raw_expect: dict, decision: Decision) -> dict:
    """For each key of the test's `expect` whose check fails, the value that passes now.
    `raw_expect` is that `expect` as the file writes it: its keys, and the fields each
    expected offer lists, are the ones kept."""
    changes = {}
    for key, raw in raw_expect.items():
        if key not in test.expect or not compare({key: test.expect[key]}, decision):
            continue
        changes[key] = _now(key, raw, decision)
    return changes


def _now(key: str, raw, decision: Decision):
    fired = [r.id for r in decision.trace]
    if key == "outlook":
        return str(decision.outlook)
    if key == "factors":
        actual = {f.name: str(f.effect) for f in decision.factors}
        return _keeping_order(list(raw or {}), actual)
    if key == "steps":
        return [str(s.step) for s in decision.steps]
    if key == "follow_up_days":
        days = [s.after_days for s in decision.steps if s.step == StepName.FOLLOW_UP]
        return days[0] if days else None
    if key == "rules":
        return fired
    if key == "fired":
        return [rule for rule in raw if rule in fired]
    if key == "entitlements":
        names = [e.name for e in decision.entitlements]
        return [n for n in raw if n in names] + [n for n in names if n not in raw]
    if key == "notes":
        return _notes_now(list(raw), list(decision.notes))
    if key == "offers":
        return [entry for _, entry in offers_now(list(raw), decision)]
    raise UpdateFailed(f"cannot rewrite expect.{key}")


def _keeping_order(old_keys: list, actual: dict) -> dict:
    kept = {k: actual[k] for k in old_keys if k in actual}
    return {**kept, **{k: v for k, v in actual.items() if k not in kept}}


def _notes_now(wanted: list[str], notes: list[str]) -> list[str]:
    """The wanted note fragments still found; each one lost is replaced by the closest note of
    the decision (each note used once), or dropped when none is left."""
    result: list[str] = []
    left = list(notes)
    for fragment in wanted:
        if any(fragment in note for note in notes):
            result.append(fragment)
        elif left:
            closest = max(left, key=lambda n: difflib.SequenceMatcher(None, fragment, n).ratio())
            left.remove(closest)
            result.append(closest)
    return result


def _offer_field(offer, name: str):
    return {
        "remedy": offer.remedy,
        "variant": str(offer.variant),
        "source": str(offer.source),
        "value": str(offer.value.amount),
        "percent": offer.percent,
        "approval": str(offer.approval),
        "approver_role": offer.approver_role,
    }[name]


def _entry(offer, names: list[str]) -> dict:
    return {name: _offer_field(offer, name) for name in names
            if not (name == "percent" and offer.percent is None)}


def offers_now(raw: list[dict], decision: Decision) -> list[tuple[int | None, dict]]:
    """The expected offers that pass now, each with the index of the entry it rewrites (None:
    an offer no entry listed). Entries keep their fields; entries of offers no longer made are
    dropped; offers no entry matches are added with the fields the other entries list."""
    actual = list(decision.offers)
    assigned: dict[int, int] = {}  # entry -> offer
    for naming_source in (True, False):  # an entry naming its source picks first
        for i, entry in enumerate(raw):
            if ("source" in entry) != naming_source:
                continue
            for j, offer in enumerate(actual):
                if j not in assigned.values() and offer.remedy == entry.get("remedy") \
                        and offer.variant == entry.get("variant", OfferVariant.FULL) \
                        and entry.get("source", offer.source) == offer.source:
                    assigned[i] = j
                    break
    listed = [name for name in OFFER_FIELDS if any(name in entry for entry in raw)]
    rows = [(i, actual[assigned[i]], list(entry)) for i, entry in enumerate(raw)
            if i in assigned]
    for j, offer in enumerate(actual):
        if j not in assigned.values():
            rows.append((None, offer, [
                "remedy", *(["variant"] if offer.variant != OfferVariant.FULL else []),
                *(["source"] if "source" in listed else []),
                *(n for n in ("value", "percent", "approval", "approver_role")
                  if n in listed or n == "value")]))
    if any("source" in names and offer.source == OfferSource.CUSTOMER_ASK
           for _, offer, names in rows):  # then asked offers are told apart by their source
        rows = [(i, offer, names if "source" in names or offer.source != OfferSource.CUSTOMER_ASK
                 else _with_source(names)) for i, offer, names in rows]
    result = [(i, _entry(offer, names)) for i, offer, names in rows]
    if _offers_fail(result, decision):  # not by construction; but never write a failing one
        result = [(None, _entry(offer, [n for n in OFFER_FIELDS if n != "variant"
                                        or offer.variant != OfferVariant.FULL]))
                  for offer in actual]
    return result


def _with_source(names: list[str]) -> list[str]:
    at = names.index("remedy") + 1 if "remedy" in names else 0
    at += names[at:at + 1] == ["variant"]
    return [*names[:at], "source", *names[at:]]


def _offers_fail(result, decision: Decision) -> bool:
    try:
        loaded = ExpectSchema().load({"offers": [e for _, e in result]})
    except ValidationError:
        return True
    return bool(compare(loaded, decision))


# --- YAML text: values rendered as the file writes them ---------------------------------


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/ ]*")


def scalar(value, style: str | None = None) -> str:
    """A YAML scalar; strings keep the quoting `style` of the value they replace."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _number(value)
    text = str(value)
    if style == "'":
        return "'" + text.replace("'", "''") + "'"
    if style is None and _PLAIN.fullmatch(text) and not text.endswith(" ") \
            and yaml.safe_load(f"[{text}]") == [text]:
        return text
    return json.dumps(text, ensure_ascii=False)


def _number(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def flow(value, column: int) -> str:
    """A list or mapping in flow style, starting at `column`, wrapped to WIDTH with its
    continuation lines aligned after the opening bracket."""
    if isinstance(value, dict):
        parts = [f"{scalar(k)}: {scalar(v)}" for k, v in value.items()]
        return _wrapped("{", parts, "}", column)
    if isinstance(value, list):
        return _wrapped("[", [flow(v, 0) if isinstance(v, dict | list) else scalar(v)
                              for v in value], "]", column)
    return scalar(value)


def _wrapped(opening: str, parts: list[str], closing: str, column: int) -> str:
    lines: list[str] = []
    current, offset, fresh = opening, column, True
    for k, part in enumerate(parts):
        suffix = closing if k == len(parts) - 1 else ","
        separator = "" if fresh else " "
        if not fresh and offset + len(current) + len(separator + part + suffix) > WIDTH:
            lines.append(current)
            current, offset, separator = " " * (column + 1), 0, ""
        current += separator + part + suffix
        fresh = False
    if not parts:
        current += closing
    lines.append(current)
    return "\n".join(lines)


# --- text edits at node spans -----------------------------------------------------------


def _content_end(node: Node) -> int:
    """Where a node's own text ends (a block collection's end mark lies past the comments and
    blank lines that follow it)."""
    if isinstance(node, ScalarNode) or node.flow_style or not node.value:
        return node.end_mark.index
    last = node.value[-1]
    if isinstance(node, MappingNode):
        key, value = last
        return max(_content_end(key), _content_end(value))
    return _content_end(last)


def _nodes(node: Node):
    yield node
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield from _nodes(key)
            yield from _nodes(value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _nodes(item)


def _same(old, new) -> bool:
    if (isinstance(old, Decimal | int) and not isinstance(old, bool)) or isinstance(new, Decimal):
        try:
            return Decimal(str(old)) == Decimal(str(new))
        except ArithmeticError:
            return False
    return old == new


class _Edits:
    def __init__(self, text: str):
        self.text = text
        self.edits: list[tuple[int, int, str]] = []

    def replace(self, start: int, end: int, new: str) -> None:
        self.edits.append((start, end, new))

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Just past the newline that ends the line holding `index`."""
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end + 1

    def alone_on_lines(self, node: Node, end: Node | None = None) -> bool:
        """Whether a block item (a sequence item from its `- `, or a mapping key to its value
        `end`) has its lines to itself: at most a comment after it."""
        before = self.text[self.line_start(node.start_mark.index):node.start_mark.index]
        stop = _content_end(end or node)
        after = self.text[stop:self.line_end(stop)].strip()
        return bool(re.fullmatch(r"\s*" if end is not None else r"\s*-\s+", before)) and (
            not after or after.startswith("#"))

    def delete_lines(self, first: Node, last: Node | None = None) -> None:
        self.replace(self.line_start(first.start_mark.index),
                     self.line_end(_content_end(last or first)), "")

    def insert_lines(self, at: int, lines: list[str]) -> None:
        lead = "" if at == 0 or self.text[:at].endswith("\n") else "\n"
        self.replace(at, at, lead + "".join(f"{line}\n" for line in lines))

    def applied(self) -> str:
        text = self.text
        spans = sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True)
        for (_, end, _), (next_start, _, _) in zip(spans[1:], spans, strict=False):
            if end > next_start:
                raise UpdateFailed("overlapping edits")
        for start, end, new in spans:
            text = text[:start] + new + text[end:]
        return text

    # one `expect` key

    def value(self, key: Node, node: Node, new) -> None:
        column = node.start_mark.column
        if isinstance(node, ScalarNode):
            if node.value == "" and node.style is None:  # `key:` with nothing after it
                self.replace(key.end_mark.index, node.end_mark.index,
                             ": " + (flow(new, key.start_mark.column + len(key.value) + 2)))
            elif isinstance(new, dict | list):
                self.replace(node.start_mark.index, node.end_mark.index, flow(new, column))
            else:
                self.replace(node.start_mark.index, node.end_mark.index,
                             scalar(new, node.style))
        elif node.flow_style:
            self.replace(node.start_mark.index, node.end_mark.index, flow(new, column))
        elif not new:
            self.replace(key.end_mark.index, _content_end(node),
                         ": {}" if isinstance(new, dict) else ": []")
        elif isinstance(node, SequenceNode) and isinstance(new, list) and all(
                isinstance(i, ScalarNode) and self.alone_on_lines(i) for i in node.value):
            self.block_sequence(node, new)
        elif isinstance(node, MappingNode) and isinstance(new, dict) and all(
                isinstance(k, ScalarNode) and isinstance(v, ScalarNode)
                and self.alone_on_lines(k, v) for k, v in node.value):
            self.block_mapping(node, new)
        else:
            indent = " " * column
            lines = ([f"{indent}{scalar(k)}: {scalar(v)}" for k, v in new.items()]
                     if isinstance(new, dict) else
                     [f"{indent}- {flow(v, column + 2)}" for v in new])
            self.replace(self.line_start(node.start_mark.index), _content_end(node),
                         "\n".join(lines))

    def block_sequence(self, node: SequenceNode, new: list) -> None:
        """Items added and removed line by line: the lines of items that stay, with their
        comments, are not touched."""
        items = node.value
        prefix = self.text[self.line_start(items[0].start_mark.index):items[0].start_mark.index]
        matcher = difflib.SequenceMatcher(None, [i.value for i in items],
                                          [str(v) for v in new], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            for item in items[i1:i2]:
                self.delete_lines(item)
            if j2 > j1:
                at = (self.line_start(items[i1].start_mark.index) if i1 < len(items)
                      else self.line_end(_content_end(items[-1])))
                self.insert_lines(at, [f"{prefix}{scalar(v)}" for v in new[j1:j2]])

    def block_mapping(self, node: MappingNode, new: dict) -> None:
        """Keys removed line by line, values replaced in place, new keys added after the
        last one."""
        pairs = node.value
        indent = " " * pairs[0][0].start_mark.column
        for key, value in pairs:
            if key.value not in new:
                self.delete_lines(key, value)
            elif value.value != str(new[key.value]):
                self.replace(value.start_mark.index, value.end_mark.index,
                             scalar(new[key.value], value.style))
        old = {key.value for key, _ in pairs}
        added = [f"{indent}{scalar(k)}: {scalar(v)}" for k, v in new.items() if k not in old]
        if added:
            self.insert_lines(self.line_end(_content_end(pairs[-1][1])), added)

    def offers(self, key: Node, node: Node, raw: list[dict],
               new: list[tuple[int | None, dict]]) -> None:
        items = node.value if isinstance(node, SequenceNode) else []
        fine = (isinstance(node, SequenceNode) and not node.flow_style and items
                and all(isinstance(i, MappingNode) and i.flow_style and self.alone_on_lines(i)
                        for i in items))
        if not new:
            if isinstance(node, SequenceNode) and node.flow_style:
                self.replace(node.start_mark.index, node.end_mark.index, "[]")
            else:
                self.replace(key.end_mark.index, _content_end(node), ": []")
            return
        if not fine:
            self.whole_offers(key, node, [entry for _, entry in new])
            return
        kept = {index for index, _ in new if index is not None}
        for index, item in enumerate(items):
            if index not in kept:
                self.delete_lines(item)
        for index, entry in new:
            if index is None:
                continue
            item = items[index]
            if [k.value for k, _ in item.value] != list(entry):
                self.replace(item.start_mark.index, item.end_mark.index,
                             flow(entry, item.start_mark.column))
                continue
            for field_key, field_node in item.value:
                old = raw[index].get(field_key.value)
                if not _same(old, entry[field_key.value]):
                    if not isinstance(field_node, ScalarNode):
                        raise UpdateFailed(f"offer field {field_key.value} is not a scalar")
                    self.replace(field_node.start_mark.index, field_node.end_mark.index,
                                 scalar(entry[field_key.value], field_node.style))
        added = [entry for index, entry in new if index is None]
        if added:
            first = items[0]
            prefix = self.text[self.line_start(first.start_mark.index):first.start_mark.index]
            self.insert_lines(self.line_end(_content_end(items[-1])),
                              [f"{prefix}{flow(entry, len(prefix))}" for entry in added])

    def whole_offers(self, key: Node, node: Node, entries: list[dict]) -> None:
        block = isinstance(node, SequenceNode) and not node.flow_style and node.value
        column = node.start_mark.column if block else key.start_mark.column + 2
        lines = [f"{' ' * column}- {flow(e, column + 2)}" for e in entries]
        if block:
            self.replace(self.line_start(node.start_mark.index), _content_end(node),
                         "\n".join(lines))
            return
        end = node.end_mark.index  # a flow list (`[]`): the entries go on the lines after it,
        rest = self.text[end:self.line_end(end)]  # and a comment stays on the key's line
        if rest.strip():
            self.replace(node.start_mark.index, end, "")
        else:
            self.replace(key.end_mark.index, end, ":")
        self.insert_lines(self.line_end(end), lines)


# --- the plan ---------------------------------------------------------------------------


def _composed_tests(text: str, file: str) -> tuple[dict[int, MappingNode], set[int]]:
    """The test mappings of a tests file, by line (1-based, as PolicyTest.line), and the
    nodes the file shares through anchors."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, MappingNode):
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "tests" \
                    and isinstance(value, SequenceNode):
                return ({item.start_mark.line + 1: item for item in value.value
                         if isinstance(item, MappingNode)}, _shared(root))
    raise UpdateFailed(f"{file}: no list of tests")


def _key_nodes(mapping: MappingNode) -> dict[str, tuple[Node, Node]]:
    return {k.value: (k, v) for k, v in mapping.value if isinstance(k, ScalarNode)}


def _shared(root: Node) -> set[int]:
    """The nodes reached more than once from the root: anchored and aliased."""
    seen: set[int] = set()
    shared: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack.extend(n for pair in node.value for n in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return shared


def _why_not_editable(expect: Node | None, keys: list[str], shared: set[int]) -> str | None:
    """Why the values of `keys` in this expect mapping cannot be rewritten in place, if so."""
    if not isinstance(expect, MappingNode) or id(expect) in shared:
        return "its expect is not a mapping of its own"
    nodes = _key_nodes(expect)
    if "<<" in nodes:
        return "its expect merges another mapping (<<)"
    for key in keys:
        if key not in nodes:
            return f"expect.{key} is not written in it"
        if any(id(node) in shared for node in _nodes(nodes[key][1])):
            return f"its expect.{key} shares a value with another part of the file (an anchor)"
    return None


def plan_updates(results: list[TestResult]) -> list[UpdatePlan]:
    """For each tests file with failing tests, the rewrite that makes them pass (where the
    policy decided something for them), checked by reading the new text back."""
    by_file: dict[str, list[TestResult]] = {}
    for result in results:
        if not result.passed:
            by_file.setdefault(result.test.file, []).append(result)
    return [_plan_file(file, failing) for file, failing in by_file.items()]


def _plan_file(file: str, failing: list[TestResult]) -> UpdatePlan:
    original = Path(file).read_bytes().decode("utf-8")
    text = original.replace("\r\n", "\n")  # edited with \n; written back as the file had it
    nodes, shared = _composed_tests(text, file)
    raw_tests = {t.line: t for t in load_yaml(text)["tests"]}
    edits = _Edits(text)
    rewrites, skipped = [], []
    for result in failing:
        test, decision = result.test, result.decision
        if decision is None:
            skipped.append((result, "the policy decided nothing for it: fix it by hand"))
            continue
        node, raw = nodes.get(test.line), raw_tests.get(test.line)
        if node is None or raw is None or raw.get("name") != test.name:
            skipped.append((result, f"not found at {file}:{test.line} (did the file change?)"))
            continue
        changes = expected_now(test, raw["expect"], decision)
        if not changes:
            skipped.append((result, "its failure is not in a value of expect"))
            continue
        expect = _key_nodes(node).get("expect", (None, None))[1]
        reason = _why_not_editable(expect, list(changes), shared)
        if reason:
            skipped.append((result, reason))
            continue
        expect_keys = _key_nodes(expect)
        for key, new in changes.items():
            key_node, value_node = expect_keys[key]
            if key == "offers":
                entries = list(raw["expect"]["offers"] or [])
                edits.offers(key_node, value_node, entries, offers_now(entries, decision))
            else:
                edits.value(key_node, value_node, new)
        rewrites.append(Rewrite(test, changes))
    new_text = edits.applied()
    if text != original:
        new_text = new_text.replace("\n", "\r\n")
    plan = UpdatePlan(file, original, new_text, tuple(rewrites), tuple(skipped))
    _check(plan, {r.test.line: r for r in failing})
    return plan


def _check(plan: UpdatePlan, failing: dict[int, TestResult]) -> None:
    """The new text reads as the old but for the rewritten keys, which now pass."""
    try:
        old, new = load_yaml(plan.old_text), load_yaml(plan.new_text)
    except yaml.YAMLError as error:
        raise UpdateFailed(f"the rewritten {plan.file} would not parse: {error}") from None
    old_tests, new_tests = old.get("tests"), new.get("tests")
    if {k: v for k, v in old.items() if k != "tests"} != \
            {k: v for k, v in new.items() if k != "tests"} or len(old_tests) != len(new_tests):
        raise UpdateFailed(f"the rewrite would change more of {plan.file} than expectations")
    changed = {r.test.line: r for r in plan.rewrites}
    for before, after in zip(old_tests, new_tests, strict=True):
        rewrite = changed.get(before.line)
        keys = set(rewrite.changes) if rewrite else set()
        same = ({k: v for k, v in before.items() if k != "expect"}
                == {k: v for k, v in after.items() if k != "expect"})
        if not same or list(before["expect"]) != list(after["expect"]) or any(
                before["expect"][k] != after["expect"][k] for k in before["expect"]
                if k not in keys):
            raise UpdateFailed(f"the rewrite would change more of test {before.get('name')!r} "
                               "than its failing expectations")
        if rewrite:
            try:
                loaded = PolicyTestSchema().load(after)
            except ValidationError as error:
                raise UpdateFailed(f"test {rewrite.test.name!r} would not be valid: "
                                   f"{error.messages}") from None
            decision = failing[rewrite.test.line].decision
            if compare(loaded["expect"], decision):
                raise UpdateFailed(f"test {rewrite.test.name!r} would still fail: "
                                   f"{'; '.join(map(str, compare(loaded['expect'], decision)))}")
