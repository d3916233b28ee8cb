"""Run compiled policies through durable_rules, safely and fast.

The adapter drives the engine's native binding (`durable_rules_engine`) directly rather than
its Python `Host`, which makes several of the engine's traps (durable-rules.md) unreachable
by construction:
- no `Host`, so none of its background timer threads, which run actions on other threads;
- rule actions are not Python callables: the adapter reads the name of each rule the engine
  fires, in the engine's order, so no action exception can be swallowed into the state;
- a fresh `sid` per assert and `delete_state` in `finally` (otherwise state leaks and the
  1,024th live sid fails), reporting the first error; never after a failed assert;
- every fact carries the discriminator and every ruleset a guard rule, so something always
  fires (a fact that fires nothing crashes `delete_state`);
- what the rulesets fire is collapsed to one firing per policy rule, in order.
"""

from __future__ import annotations

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
        prefix = f"p{next(_program_numbers)}"
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
        fired: dict[int, None] = {}
        for handle in self._handles:
            for name in self._run(handle, fact):
                if name != GUARD_NAME:
                    fired.setdefault(int(name.partition("#")[0]))
        return [self.rule_ids[n] for n in fired]

    @staticmethod
    def _run(handle: int, fact: dict) -> list[str]:
        """Assert one fact into one ruleset and take every action it fires, in order.

        `delete_state` follows every successful assert. After a *failed* assert it is not
        called: it then raises 309 at best and can abort the process (seen here, depending on
        heap state). Such failures are prevented upstream (packing, typed facts, size caps);
        should one happen, it leaves one state behind and is reported as an EngineError.
        """
        sid = str(next(_sids))
        fact["sid"] = sid
        try:
            code, state = native.assert_fact(handle, json.dumps(fact))
        except Exception as error:
            raise EngineError(f"the engine refused a fact: {error}") from error
        names: list[str] = []
        first_error: BaseException | None = None
        try:
            if code == _NOT_HANDLED:
                raise EngineError("the guard rule did not fire; the fact is malformed")
            result = native.start_action_for_state(handle, state)
            while result:
                message = result[1] if isinstance(result, tuple | list) else result
                names.append(_action_name(message))
                result = native.complete_and_start_action(handle, state)
        except BaseException as error:
            first_error = error
            raise
        finally:
            try:
                native.delete_state(handle, sid)
            except BaseException:
                if first_error is None:
                    raise
        return names

    def close(self) -> None:
        """Free the rulesets' native memory; only once no request uses this program."""
        with _registry_lock:
            self._delete_rulesets()

    def _delete_rulesets(self) -> None:
        for handle in self._handles:
            native.delete_ruleset(handle)
        self._handles = []


def _action_name(message: str) -> str:
    """The fired rule's name: the first key of the engine's `{"name": {...}}` message."""
    if not message.startswith('{"'):
        raise EngineError(f"unexpected engine message: {message[:80]}")
    return message[2:message.index('"', 2)]
