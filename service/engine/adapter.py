"""Run compiled policies through durable_rules, safely and fast.

The adapter drives the engine's native binding (`durable_rules_engine`) directly rather than
its Python `Host`, which makes several of the engine's known traps unreachable
by construction:
- no `Host`, so none of its background timer threads, which run actions on other threads;
- rule actions are not Python callables: the adapter reads the name of each rule the engine
  fires, in the engine's order, so no action exception can be swallowed into the state;
- every fact carries the discriminator and every ruleset a guard rule, so something always
  fires (a fact that fires nothing crashes `delete_state`);
- what the rulesets fire is collapsed to one firing per policy rule, in the policy's firing
  order (priority, then definition order): a rule compiled to several alternatives, or split
  into parts over several rulesets, may fire many times, and is reported once, in its place.

Engine states are reused. Creating a state costs more than matching a fact against 750
rules (every rule's memory is allocated and zeroed), so each decision leases a `sid` from a
pool, asserts its fact, takes every action, then retracts the fact, which leaves the state
as it found it (checked: nothing pending) for the next decision. A sid is used by one thread
at a time and the pool holds no more than the most decisions ever in flight at once, far
under the engine's 1,024 live sids. A decision that fails in the engine discards its sid:
its states are deleted where that is safe (never after a failed assert, which can abort the
process) and at worst one state is left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading

import durable_rules_engine as native

from service.engine.compiler import (
    DISCRIMINATOR,
    FACT_KIND,
    GUARD_NAME,
    RulesetPlan,
    compile_rule,
    pack,
    ruleset_definition,
)
from service.policy.model import Policy

_NOT_HANDLED = 1  # assert_fact result code when no rule matched


class EngineError(RuntimeError):
    """The engine failed on a fact: a defect to report, never a silent non-match."""


_registry_lock = threading.Lock()
_sids = itertools.count(1)
_fact_ids = itertools.count(1)
_program_numbers = itertools.count(1)


def nest(flat: dict) -> dict:
    """Dotted paths to nested objects, as the engine expects facts."""
    fact: dict = {}
    for path, value in flat.items():
        node = fact
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return fact


class RuleProgram:
    """A policy registered with the engine: `fired(fact)` gives rule ids in firing order."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self.rule_ids = [rule.id for rule in policy.rules]
        number = {rule_id: n for n, rule_id in enumerate(self.rule_ids)}
        compiled = [compile_rule(rule, policy.fields) for rule in policy.rules]
        self.plans: list[RulesetPlan] = pack(compiled)
        prefix = self._prefix = f"p{next(_program_numbers)}"
        self._numbers: dict[str, int] = {}  # engine rule name -> policy rule number
        self._pool_lock = threading.Lock()
        self._free_sids: list[str] = []
        self._handles: list[int] = []
        with _registry_lock:
            try:
                for index, plan in enumerate(self.plans):
                    definition = ruleset_definition(plan, lambda rule_id: str(number[rule_id]))
                    self._handles.append(native.create_ruleset(f"{prefix}_{index}",
                                                               json.dumps(definition)))
            except BaseException:
                self._delete_rulesets()
                raise

    @property
    def engine_rule_count(self) -> int:
        return sum(plan.engine_rules for plan in self.plans)

    def fired(self, flat_fact: dict) -> list[str]:
        fact = nest(flat_fact)
        fact[DISCRIMINATOR] = FACT_KIND
        sid, seasoned = self._lease_sid()
        fact["sid"] = sid
        fired: set[int] = set()  # numbers of policy rules, which are their firing order
        asserted: list[int] = []
        refused_by: int | None = None
        try:
            for handle in self._handles:
                fact["id"] = f"f{next(_fact_ids)}"
                try:
                    code, state = native.assert_fact(handle, json.dumps(fact))
                except Exception as error:
                    refused_by = handle
                    raise EngineError(f"the engine refused a fact: {error}") from error
                asserted.append(handle)
                for name in self._take_actions(handle, fact, code, state):
                    number = self._numbers.get(name)
                    if number is None:
                        number = self._numbers[name] = _rule_number(name)
                    fired.add(number)
        except BaseException:
            # Never reuse it. Its states exist where an assert succeeded (everywhere, for a
            # sid used before); a failed assert is never followed by delete_state.
            for handle in self._handles if seasoned else asserted:
                if handle != refused_by:
                    with contextlib.suppress(Exception):
                        native.delete_state(handle, sid)
            raise
        with self._pool_lock:
            self._free_sids.append(sid)
        fired.discard(_GUARD)
        return [self.rule_ids[n] for n in sorted(fired)]

    @staticmethod
    def _take_actions(handle: int, fact: dict, code: int, state: int) -> list[str]:
        """Every action the asserted fact fires, in order; then retract it, leaving the
        state with nothing pending."""
        if code == _NOT_HANDLED:
            raise EngineError("the guard rule did not fire; the fact is malformed")
        names: list[str] = []
        append, following = names.append, native.complete_and_start_action
        started = native.start_action_for_state(handle, state)  # (state, message) or None
        message = None
        if started:
            message = started[1] if isinstance(started, tuple | list) else started
            if not isinstance(message, str):
                raise EngineError(f"unexpected engine answer: {str(started)[:80]}")
        while message is not None:  # once per fired engine rule: kept lean
            if not message.startswith('{"'):
                raise EngineError(f"unexpected engine message: {message[:80]}")
            append(message[2:message.index('"', 2)])  # the first key: the rule's name
            message = following(handle, state) or None
        _, state = native.retract_fact(handle, json.dumps(
            {"sid": fact["sid"], "id": fact["id"], DISCRIMINATOR: FACT_KIND}))
        if native.start_action_for_state(handle, state):
            raise EngineError("retracting the fact left an action pending")
        return names

    def _lease_sid(self) -> tuple[str, bool]:
        """A sid no other thread is using, and whether it has states from earlier use."""
        with self._pool_lock:
            if self._free_sids:
                return self._free_sids.pop(), True
        return f"{self._prefix}s{next(_sids)}", False

    def close(self) -> None:
        """Free the rulesets' native memory; only once no request uses this program.
        Deleting a ruleset does not free its states: each pooled state goes first."""
        with self._pool_lock:
            sids, self._free_sids = self._free_sids, []
        with _registry_lock:
            for handle in self._handles:
                for sid in sids:
                    native.delete_state(handle, sid)
            self._delete_rulesets()

    def _delete_rulesets(self) -> None:
        for handle in self._handles:
            native.delete_ruleset(handle)
        self._handles = []


_GUARD = -1  # the guard rule's number: fires for every fact, reported for none


def _rule_number(name: str) -> int:
    """The policy rule an engine rule's name stands for (`12`, or `12#3` for an alternative
    or part of it), or _GUARD."""
    return _GUARD if name == GUARD_NAME else int(name.partition("#")[0])
