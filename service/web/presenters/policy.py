"""The active policy as GET /v1/policy shows it (`schemas.policy_view.PolicyViewSchema`)."""

from __future__ import annotations

from service.app.active_policy import ActivePolicy
from service.domain.money import ExchangeRates, amount_text
from service.domain.records import RefusedReload
from service.policy.diff import condition_text, remedy_text
from service.policy.model import Rule
from service.web.presenters import moment_json, plain_decimal


def refused_json(refused: RefusedReload | None) -> dict | None:
    if refused is None:
        return None
    return {"version": refused.version, "at": moment_json(refused.at),
            "trigger": refused.trigger, "reasons": list(refused.reasons)}


def per_currency_json(table) -> dict | None:
    """Amounts per currency, each in its currency's minor unit ("50.00", "8000")."""
    return None if table is None else {currency: amount_text(amount, currency)
                                       for currency, amount in table}


def exchange_rates_json(rates: ExchangeRates | None) -> dict | None:
    if rates is None:
        return None
    return {"as_of": rates.as_of.isoformat(),
            "rates": {into: {source: format(rate, "f") for source, rate in table.items()}
                      for into, table in rates.rates.items()}}


def rule_effects(rule: Rule) -> list[str]:
    """What a rule does, a sentence each, for people who do not read YAML."""
    said = [f"{factor.name} {factor.effect} recovery" for factor in rule.factors]
    if rule.steps:
        said.append("steps: " + ", ".join(
            str(step.step) + (f" after {step.after_days} days" if step.after_days is not None
                              else "") for step in rule.steps))
    said += [f"offer {remedy.kind}: {remedy_text(remedy)}" for remedy in rule.remedies]
    said += [f"entitle to {e.name}: {e.description}" for e in rule.entitlements]
    said += [f"withdraw {w.what} {w.name}: {w.reason}" for w in rule.withdrawals]
    return said


def policy_view(active: ActivePolicy, last_refused: RefusedReload | None = None) -> dict:
    policy = active.policy
    return {
        "last_refused": refused_json(last_refused),
        "failing_tests": [{"name": result.test.name, "file": result.test.file,
                           "line": result.test.line,
                           "problems": [str(mismatch) for mismatch in result.mismatches]}
                          for result in active.failing_tests],
        "name": policy.name,
        "version": policy.version,
        "description": policy.description,
        "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
        "currencies": list(policy.currencies),
        "rule_count": len(policy.rules),
        "rules": [{"id": r.id, "description": r.description, "priority": r.priority,
                   "file": r.file, "line": r.line, "table": r.first_of,
                   "when": condition_text(r.when, policy), "then": rule_effects(r)}
                  for r in policy.rules],
        "roles": [{"name": role.name, "description": role.description,
                   "per_incident_limit": per_currency_json(role.per_incident_limit),
                   "per_agent_daily_budget": per_currency_json(role.per_agent_daily_budget),
                   "per_order_cap": per_currency_json(role.per_order_cap),
                   "per_customer_cap": per_currency_json(role.per_customer_cap),
                   "remedies": sorted(role.remedies), "admin": role.admin,
                   "policy_owner": role.policy_owner}
                  for role in (policy.roles[name] for name in policy.escalation)],
        "escalation": list(policy.escalation),
        "remedy_kinds": [{"name": k.name, "scales": k.scales, "combines": k.combines,
                          "description": k.description, "statutory": k.statutory,
                          "ceiling_percent": plain_decimal(k.ceiling_percent)}
                         for k in sorted(policy.remedy_kinds.values(), key=lambda k: k.name)],
        "context": [{"name": c.name, "type": c.type.name, "required": c.required,
                     "values": list(c.choices), "unit": c.unit, "description": c.description}
                    for c in policy.context.values()],
        "derived": [{"name": d.name, "type": d.type, "compute": d.formula.text,
                     "bands": [{"value": r.value, "bound": None if r.bound is None
                                else str(r.bound), "inclusive": r.inclusive}
                               for r in d.ranges],
                     "description": d.description} for d in policy.derived],
        "holidays": sorted(day.isoformat() for day in policy.holidays),
        "grant_now": {"prefer": list(policy.grant_preference),
                      "ask_first": policy.grant_ask_first},
        "failure_categories": list(policy.failure_categories),
        "customer_tiers": list(policy.customer_tiers),
        "max_compensation_percent": plain_decimal(policy.max_compensation_percent),
        "history_window_days": policy.history_window_days,
        "rolling_window_days": policy.rolling_window_days,
        "day_starts_in": policy.day_starts_in,
        "exchange_rates": exchange_rates_json(policy.exchange_rates),
    }
