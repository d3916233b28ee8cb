"""Read a policy folder, check everything, and build the Policy — or report every problem."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError
from marshmallow.experimental.context import Context

from schemas.policy_files import (
    PolicyFileSchema,
    PolicyTestSchema,
    RolesFileSchema,
    RuleSchema,
    RulesFileSchema,
    TestsFileSchema,
)
from schemas.policy_files import (
    strict as checked_as_new,
)
from service.domain.fields import FieldSpec, incident_fields
from service.domain.incident import IncidentInvalid
from service.domain.money import ExchangeRates
from service.domain.policy_terms import Entitlement, Withdrawal
from service.domain.vocabulary import Basis
from service.engine.compiler import CompileError, compile_rule, fact_shape_problems, pack
from service.policy.conditions import ConditionParser
from service.policy.expressions import (
    ExpressionError,
    Type,
    compile_expression,
    fact_type,
    not_always_whole,
)
from service.policy.model import (
    BUILTIN_REMEDY_KINDS,
    BandRange,
    ContextFact,
    DerivedFact,
    Factor,
    Formula,
    IncidentReader,
    Policy,
    PolicyTest,
    RemedyKind,
    RemedyProposal,
    Role,
    Rule,
    Step,
)
from service.policy.problems import PolicyInvalid, Problem
from service.policy.tables import TableRuleSchema, compile_table, is_table
from service.policy.yaml_lines import LineDict, LineList, load_yaml

POLICY_FILE = "policy.yaml"
ROLES_FILE = "roles.yaml"
TESTS_FILE = "tests.yaml"
MAX_FILE_BYTES = 8 * 1024 * 1024
# Rates from A into B and from B into A multiply to about 1; outside this, one is mistyped.
ROUND_TRIP = (Decimal("0.9"), Decimal("1.1"))


def is_folder(path: str | Path) -> bool:
    """Whether `path` names a folder; False for a name the system refuses (too long, say),
    as for one that does not exist."""
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return False


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.suffix in (".yaml", ".yml") and is_utf8(p.name) and p.is_file())


def is_utf8(name: str) -> bool:
    """Whether a file name is UTF-8 text (one that is not comes with surrogates, which
    cannot be printed, stored or hashed as text)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str | Path) -> str:
    """A path as printable text: the bytes of a name that is not UTF-8 as `\\xff`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def skipped_files(directory: Path) -> list[Problem]:
    """Entries of the folder named like policy files that `policy_files` does not read, each
    a problem: a policy must not lose a file without a word."""
    problems = []
    for path in sorted(directory.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml") or (path.name.startswith(".") and not path.is_file()):
            continue  # an editor's lock (`.#remedies.yaml`, a link to nothing) is not a file
        if not is_utf8(path.name):
            problems.append(Problem(shown(path), 0, "not read: the file name is not UTF-8 "
                                                    "text; rename it"))
        elif path.suffix != suffix:
            problems.append(Problem(str(path), 0, f"not read: end the name in `{suffix}`, "
                                                  "in lower case"))
        elif not path.is_file():
            problems.append(Problem(str(path), 0, "not read: not a file (a folder, or a "
                                                  "link that leads to no file)"))
    return problems


def policy_version(directory: Path) -> str:
    """A content hash of every file of the policy: the version recorded in each decision."""
    digest = hashlib.sha256()
    for path in policy_files(directory):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# progress(what, done, total): how far reading a big policy has come ("reading files", ...)
Progress = Callable[[str, int, int], None]


def load_policy(directory: str | Path, read_incident: IncidentReader | None = None,
                progress: Progress | None = None, strict: bool = True) -> Policy:
    """The checked policy of a folder, or PolicyInvalid with every problem. Its own test cases
    are loaded when `read_incident` (the service's incident parser) is given to check them;
    `progress` hears how far it has come (for a policy of thousands of rules). `strict`:
    every check; False for a version activated before (schemas.policy_files.strict)."""
    with Context({"strict": strict}):
        return _Loader(Path(directory), read_incident, progress).load()


class _Loader:
    def __init__(self, directory: Path, read_incident: IncidentReader | None,
                 progress: Progress | None = None):
        self.directory = directory
        self.read_incident = read_incident
        self.progress: Progress = progress or (lambda what, done, total: None)
        self.problems: list[Problem] = []
        # (rule id, withdrawal number) -> (its line, its index in the file), for problems
        # found once every rule is read
        self.written: dict[tuple[str, int], tuple[int, int]] = {}
        self.entitlements_written: set[str] = set()  # named by any rule, valid or not

    # ---- helpers ------------------------------------------------------------------------
    def problem(self, file: str, line: int, message: str, rule: str | None = None,
                field: str | None = None) -> None:
        self.problems.append(Problem(file, line, message, rule, field))

    def read(self, path: Path):
        name = str(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                self.problem(name, 0, f"file is larger than {MAX_FILE_BYTES} bytes")
                return None
            document = load_yaml(path.read_text(encoding="utf-8"))
        except OSError as error:  # no permission to read it, an I/O error
            self.problem(name, 0, f"cannot be read: {error.strerror or error}")
            return None
        except UnicodeDecodeError:
            self.problem(name, 0, "file is not UTF-8 text")
            return None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            self.problem(name, mark.line + 1 if mark else 0, f"not valid YAML: {error}")
            return None
        if not isinstance(document, LineDict):
            self.problem(name, 1, "the file must be a YAML mapping")
            return None
        self.report_duplicate_keys(name, document)
        return document

    def report_duplicate_keys(self, name: str, node, seen: set[int] | None = None) -> None:
        """Each mapping once: an alias repeats the node its anchor names, and walking every
        repetition of nested aliases would take time exponential in their depth."""
        seen = set() if seen is None else seen
        if isinstance(node, LineDict | LineList):
            if id(node) in seen:
                return
            seen.add(id(node))
        if isinstance(node, LineDict):
            for key, line in node.duplicate_keys:
                self.problem(name, line, f"key `{key}` appears twice")
            for value in node.values():
                self.report_duplicate_keys(name, value, seen)
        elif isinstance(node, LineList):
            for value in node:
                self.report_duplicate_keys(name, value, seen)

    def validate(self, schema: Schema, document: LineDict, file: str, rule: str | None = None):
        try:
            return schema.load(document)
        except ValidationError as error:
            self.structure_problems(error.messages, document, file, [], document.line, rule)
            return None

    def validate_items(self, schema: Schema, items: LineList, file: str, named_by: str):
        """Validate each item on its own; keep (raw, loaded) for the valid ones."""
        valid = []
        for raw in items:
            name = raw.get(named_by) if isinstance(raw.get(named_by), str) else None
            loaded = self.validate(schema, raw, file, name if named_by == "id" else None)
            if loaded is not None:
                valid.append((raw, loaded))
        return valid

    def structure_problems(self, messages, node, file, path, line, rule) -> None:
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    self.structure_problems(message, node, file, path, line, rule)
                    continue
                field = ".".join(str(p) for p in path) or None
                if message == "Unknown field." and path:
                    message = f"unknown field `{path[-1]}`"
                self.problem(file, line, str(message), rule, field)
            return
        for key, sub in messages.items():
            if key == "_schema":
                self.structure_problems(sub, node, file, path, line, rule)
                continue
            child, child_line = node, line
            if _has(node, key):
                child, child_line = node[key], node.line_of(key)
            elif key in ("key", "value"):  # marshmallow wraps Dict entries
                self.structure_problems(sub, node, file, path, line, rule)
                continue
            child_rule = rule
            if path == ["rules"] and isinstance(child, LineDict) and isinstance(
                    child.get("id"), str):
                child_rule = child["id"]
                self.structure_problems(sub, child, file, [], child_line, child_rule)
                continue
            self.structure_problems(sub, child, file, [*path, key], child_line, child_rule)

    # ---- the whole policy ---------------------------------------------------------------
    def load(self) -> Policy:
        directory = self.directory
        if not is_utf8(str(directory)):
            raise PolicyInvalid(shown(directory), [Problem(shown(directory), 0, (
                "the folder's name is not UTF-8 text"))])
        if not is_folder(directory):
            raise PolicyInvalid(str(directory), [Problem(str(directory), 0,
                                                         "no such policy folder")])
        try:
            files = {path.name: path for path in policy_files(directory)}
            self.problems.extend(skipped_files(directory))
        except OSError as error:  # the folder, or an entry of it, may not be read
            raise PolicyInvalid(str(directory), [Problem(str(directory), 0, (
                f"cannot be read: {error.strerror or error}"))]) from None
        for required in (POLICY_FILE, ROLES_FILE):
            if required not in files:
                self.problem(str(directory / required), 0, "required file is missing")
        documents = {}
        for number, (name, path) in enumerate(files.items()):
            self.progress("reading files", number, len(files))
            documents[name] = self.read(path)
        self.progress("reading files", len(files), len(files))

        settings = self.section(documents, POLICY_FILE, PolicyFileSchema())
        roles_doc = self.section(documents, ROLES_FILE, RolesFileSchema())
        rule_docs = {name: (doc, doc if is_table(doc) else
                            self.validate(RulesFileSchema(), doc, str(files[name])))
                     for name, doc in documents.items()
                     if name not in (POLICY_FILE, ROLES_FILE, TESTS_FILE) and doc is not None}
        tests_doc = self.section(documents, TESTS_FILE, TestsFileSchema())
        if settings is None:
            raise PolicyInvalid(str(directory), self.problems)

        kinds = self.remedy_kinds(settings, files[POLICY_FILE], documents[POLICY_FILE])
        context = {name: ContextFact(name, spec["type"], spec["required"],
                                     tuple(spec.get("values", ())), spec.get("unit"),
                                     spec["description"])
                   for name, spec in settings["context"].items()}
        fields = incident_fields(tuple(settings["customer_tiers"]),
                                 tuple(settings["failure_categories"]),
                                 tuple(settings["currencies"]), tuple(sorted(kinds)),
                                 tuple(fact.field() for fact in context.values()))
        currencies = tuple(settings["currencies"])
        holidays = frozenset(settings["holidays"])
        derived = self.derived_facts(settings, files[POLICY_FILE], documents[POLICY_FILE],
                                     fields, currencies, holidays)
        exchange_rates = self.exchange_rates(settings, files[POLICY_FILE],
                                             documents[POLICY_FILE], currencies)
        self.formulas = FormulaReader(fields, currencies, holidays)
        rules = self.rules(rule_docs, files, fields, kinds, currencies,
                           Decimal(settings["max_compensation_percent"]))
        roles, escalation = self.roles(roles_doc, documents.get(ROLES_FILE), files, kinds,
                                       currencies)
        totals = roles_doc or {"rolling_window_days": 30, "day_starts_in": "UTC",
                               "abuse_signal": None, "grant_now": {"prefer": [],
                                                                   "ask_first": True}}
        self.preferred_kinds(totals["grant_now"]["prefer"], documents.get(ROLES_FILE), files,
                             kinds)
        self.grantable(rules, roles, files)
        try:
            version = policy_version(directory)
        except OSError as error:  # a file that cannot be read: said already, or now
            if not self.problems:
                self.problem(str(directory), 0, f"cannot be read: {error.strerror or error}")
            version = ""
        policy = Policy(
            name=settings["name"],
            version=version,
            description=settings["description"],
            directory=str(directory),
            effective_from=settings["effective_from"],
            currencies=currencies,
            customer_tiers=tuple(settings["customer_tiers"]),
            failure_categories=tuple(settings["failure_categories"]),
            history_window_days=settings["history_window_days"],
            max_compensation_percent=Decimal(settings["max_compensation_percent"]),
            unlikely_at_hurts=settings["outlook"]["unlikely_at_hurts"],
            context=context,
            remedy_kinds=kinds,
            rules=tuple(sorted(rules, key=lambda r: (r.priority, r.index))),
            roles=roles,
            escalation=escalation,
            fields=fields,
            rolling_window_days=totals["rolling_window_days"],
            day_starts_in=totals["day_starts_in"],
            abuse_grants_in_window=(totals["abuse_signal"] or {}).get("grants_in_window"),
            exchange_rates=exchange_rates,
            derived=derived,
            holidays=holidays,
            grant_preference=tuple(totals["grant_now"]["prefer"]),
            grant_ask_first=totals["grant_now"]["ask_first"],
        )
        if not self.problems:
            self.engine_limits(policy)
        if self.read_incident is not None and tests_doc is not None:
            tests = self.tests(tests_doc, documents[TESTS_FILE], files[TESTS_FILE], policy)
            object.__setattr__(policy, "tests", tests)
        if self.problems:
            raise PolicyInvalid(str(directory), self.problems)
        return policy

    def derived_facts(self, settings, path, document, fields, currencies,
                      holidays) -> tuple[DerivedFact, ...]:
        """Each derived fact in the order declared, checked against the facts before it;
        its field is added to `fields` so that later ones and the rules can test it."""
        found = []
        for name, spec in settings["derived"].items():
            raw = document["derived"][name]
            reader = FormulaReader(fields, currencies, holidays)
            field = f"derived.{name}"
            band = spec.get("band")
            if band is None:
                expect = {"integer": Type.NUMBER, "decimal": Type.NUMBER,
                          "money": Type.MONEY, "boolean": Type.BOOLEAN,
                          "date": Type.DATE}[spec["type"]]
                formula = reader.read(spec["compute"], expect, f"derived.{name}")
                ranges: tuple[BandRange, ...] = ()
                line = raw.line_of("compute")
                if spec["type"] == "integer" and not isinstance(formula, str) \
                        and checked_as_new():
                    formula = self.whole_formula(formula, fields)
            else:
                formula = reader.read(band["of"], None, f"derived.{name}")
                line = raw["band"].line_of("of")
                ranges = self.band_ranges(band["ranges"], formula, str(path), raw["band"],
                                          field)
            if isinstance(formula, str):
                text = band["of"] if band else spec["compute"]
                # The error names a fact declared later (or this one): say so.
                later = [f"derived.{other}" for other in list(settings["derived"])[
                    list(settings["derived"]).index(name):]
                    if re.search(rf"(?<![\w.])derived\.{re.escape(other)}(?!\w)", text)
                    and f"derived.{other}`" in formula]
                if later:
                    where = formula.split(": ", 1)[0] if formula.startswith("at column") else ""
                    formula = (f"{where}{': ' if where else ''}`{later[0]}` is declared after "
                               f"{field} (or is it): a derived fact may use only those "
                               "declared before it")
                self.problem(str(path), line, f"{field}: {formula}",
                             field=f"{field}.{'band.of' if band else 'compute'}")
            if isinstance(formula, str) or ranges is None:
                # Rules may still test it: the one problem is its own expression's or band's.
                fields[field] = FieldSpec(field, "decimal" if spec["type"] == "money"
                                          else spec["type"], True,
                                          tuple(r["value"] for r in band["ranges"])
                                          if band else ())
                continue
            fact = DerivedFact(name, spec["type"], spec["description"], formula, ranges)
            fields[fact.path] = fact.field()
            found.append(fact)
        return tuple(found)

    @staticmethod
    def whole_formula(formula: Formula, fields) -> Formula | str:
        """A derived whole number's formula, or what is wrong with it: one that may come to
        a value that is not whole (a division, a decimal fact) would be unknown then."""
        whole = [path for path, spec in fields.items() if spec.type.name == "integer"]
        found = not_always_whole(formula.expression, whole)
        if found is None:
            return formula
        column, why = found
        return (f"at column {column}: a whole number (integer) is computed from what may not "
                f"be whole ({why}): round it with round(...), round_down(...) or "
                "round_up(...), or declare the fact a decimal")

    def band_ranges(self, ranges, formula, file, raw, field) -> tuple[BandRange, ...] | None:
        """The ranges of a band in order, or None with the problem on the line at fault
        (`raw`: the band's mapping as read, with its lines)."""
        if isinstance(formula, str):
            return ()
        kind = formula.expression.type
        dates = kind is Type.DATE
        if kind not in (Type.NUMBER, Type.DATE):
            self.problem(file, raw.line_of("of"), f"{field}: a band is of a number or a date, "
                         f"not {kind.described}", field=f"{field}.band.of")
            return None
        found = []
        for i, item in enumerate(ranges):
            line = raw["ranges"].line_of(i)
            bounds = {k: v for k, v in item.items() if k != "value"}
            wrong = {"below", "at_most"} if dates else {"before", "on_or_before"}
            if set(bounds) & wrong:
                how = ("date with `before` or `on_or_before`" if dates
                       else "number with `below` or `at_most`")
                self.problem(file, line, f"{field}: range {i + 1} bounds a {how}",
                             field=f"{field}.band.ranges.{i}")
                return None
            bound = next(iter(bounds.values()), None)
            if found and found[-1].bound is None:
                self.problem(file, line, f"{field}: range {i + 1} follows the range for the "
                             "rest (one without a bound), so it never applies",
                             field=f"{field}.band.ranges.{i}")
                return None
            if bound is not None and found and found[-1].bound is not None \
                    and bound <= found[-1].bound:
                self.problem(file, line, f"{field}: range {i + 1}'s bound {bound} is not above "
                             f"the one before ({found[-1].bound}); list ranges from low to high",
                             field=f"{field}.band.ranges.{i}")
                return None
            found.append(BandRange(item["value"], bound,
                                   inclusive=bool(set(bounds) & {"at_most", "on_or_before"})))
        return tuple(found)

    def section(self, documents, name, schema):
        document = documents.get(name)
        if document is None:
            return None
        return self.validate(schema, document, str(self.directory / name))

    def remedy_kinds(self, settings, path, document) -> dict[str, RemedyKind]:
        kinds = dict(BUILTIN_REMEDY_KINDS)
        for name, spec in settings["remedy_kinds"].items():
            raw = document["remedy_kinds"][name]
            builtin = BUILTIN_REMEDY_KINDS.get(name)
            if builtin is None and "scales" not in spec:
                self.problem(str(path), document["remedy_kinds"].line_of(name),
                             f"say whether `{name}` scales (can be capped to a limit): "
                             "`scales: true` or `scales: false`",
                             field=f"remedy_kinds.{name}.scales")
                continue
            if builtin is not None and spec.get("scales", builtin.scales) != builtin.scales:
                self.problem(str(path), raw.line_of("scales"),
                             f"the built-in kind `{name}` {'always' if builtin.scales else 'never'}"
                             " scales; a policy may restate only its `combines` and description",
                             field=f"remedy_kinds.{name}.scales")
                continue
            kinds[name] = RemedyKind(
                name, spec.get("scales", builtin.scales if builtin else False),
                spec.get("combines", builtin.combines if builtin else True),
                spec.get("description", builtin.description if builtin else ""),
                statutory=spec.get("statutory", False),
                ceiling_percent=spec.get("ceiling_percent"))
        return kinds

    def exchange_rates(self, settings, path, document, currencies) -> ExchangeRates | None:
        """Rates into each currency of the policy from every other one: running totals count
        grants in every currency against a budget in one. One currency needs none. Rates may
        also come from a currency the policy no longer has (grants made in it under an
        earlier version still count), into every currency it has."""
        file, declared = str(path), settings["exchange_rates"]
        if declared is None:
            if len(currencies) > 1:
                self.problem(file, document.line_of("currencies"),
                             "a policy of several currencies declares `exchange_rates` "
                             "(`as_of` and `rates` into each currency from every other one), "
                             "so that budgets and caps count grants in every currency",
                             field="exchange_rates")
            return None
        raw = document["exchange_rates"]
        raw_rates = raw["rates"]
        rates: dict[str, dict[str, Decimal]] = {}
        for into, table in declared["rates"].items():
            line = raw_rates.line_of(into)
            if into not in currencies:
                self.problem(file, line, f"{into} is not a currency of this policy",
                             field=f"exchange_rates.rates.{into}")
                continue
            rates[into] = {}
            for source, rate in table.items():
                if source == into:
                    self.problem(file, raw_rates[into].line_of(source),
                                 f"a currency is worth 1 of itself: leave {into} out of the "
                                 f"rates into {into}", field=f"exchange_rates.rates.{into}")
                else:  # from a currency the policy no longer has: earlier grants in it
                    rates[into][source] = Decimal(rate)
        retired = sorted({source for table in rates.values() for source in table}
                         - set(currencies))
        for source in retired:  # earlier grants in it count in every currency's totals
            lacking = [into for into in currencies if source not in rates.get(into, {})]
            if lacking:
                self.problem(file, raw.line_of("rates"),
                             f"{source} is not a currency of this policy: rates from it (for "
                             "the grants made in it earlier, which running totals still "
                             f"count) go into every currency; none into {', '.join(lacking)}",
                             field="exchange_rates.rates")
        for into in currencies:
            others = [c for c in currencies if c != into]
            missing = [c for c in others if c not in rates.get(into, {})]
            if into not in declared["rates"] and others:
                self.problem(file, raw.line_of("rates"),
                             f"no rates into {into}: say what one {', '.join(others)} is "
                             f"worth in {into} (`{into}: {{{others[0]}: \"...\"}}`)",
                             field=f"exchange_rates.rates.{into}")
            elif missing and into in rates:
                self.problem(file, raw_rates.line_of(into),
                             f"no rate from {', '.join(missing)} into {into}",
                             field=f"exchange_rates.rates.{into}")
        for into, table in rates.items():  # a mistyped rate: there and back is far from 1
            for source, rate in table.items():
                back = rates.get(source, {}).get(into)
                if back is not None and source < into and not (
                        ROUND_TRIP[0] <= rate * back <= ROUND_TRIP[1]):
                    self.problem(file, raw_rates[into].line_of(source),
                                 f"the rate from {source} into {into} ({rate}) and back "
                                 f"({back}) multiply to {rate * back}: a round trip should "
                                 f"come back to about 1 ({ROUND_TRIP[0]} to {ROUND_TRIP[1]}); "
                                 "is one of them mistyped?",
                                 field=f"exchange_rates.rates.{into}.{source}")
        return ExchangeRates(declared["as_of"], rates)

    def rules(self, rule_docs, files, fields, kinds, currencies, max_percent) -> list[Rule]:
        rules: list[Rule] = []
        first_seen: dict[str, tuple[str, int]] = {}
        index = 0
        total = sum(len(loaded["rules"]) for _, loaded in rule_docs.values()
                    if isinstance(loaded, dict) and isinstance(loaded.get("rules"), list))
        for number, (name, (document, loaded)) in enumerate(sorted(rule_docs.items())):
            self.progress("checking rule files", number, len(rule_docs))
            if loaded is None:
                continue
            file = str(files[name])
            if is_table(document):  # a decision table: its rows as ordinary rules
                items, found = compile_table(document, file, fields)
                self.problems.extend(found)
                schema: RuleSchema = TableRuleSchema()
            else:
                items, schema = document["rules"], RuleSchema()
            first_problem = len(self.problems)
            self.entitlements_written.update(_entitlement_names(items))
            for raw, data in self.validate_items(schema, items, file, "id"):
                rule_id, line = data["id"], raw.line
                if rule_id in first_seen:
                    other = first_seen[rule_id]
                    self.problem(file, raw.line_of("id"), f"duplicate rule id; first defined at "
                                 f"{other[0]}:{other[1]}", rule_id, "id")
                    continue
                first_seen[rule_id] = (file, raw.line_of("id"))
                parser = ConditionParser(fields, file, rule_id, self.problems)
                when = parser.parse(data["when"], raw.line_of("when"))
                then = raw["then"]
                remedies = []
                for i, remedy in enumerate(data["then"]["remedies"]):
                    remedy_line = then["remedies"].line_of(i)
                    proposal = self.remedy(remedy, kinds, currencies, file, remedy_line, rule_id,
                                           f"then.remedies.{i}", max_percent,
                                           then["remedies"][i])
                    if proposal:
                        remedies.append(proposal)
                withdrawals = self.withdrawals(data["then"]["withdraw"], then, kinds, file,
                                               rule_id)
                if when is None:
                    continue
                rule = Rule(
                    id=rule_id, description=data["description"], when=when,
                    priority=data["priority"], index=index, file=file, line=line,
                    factors=tuple(Factor(n, e) for n, e in data["then"]["factors"].items()),
                    steps=tuple(Step(s["step"], s.get("after_days")) for s in
                                data["then"]["steps"]),
                    remedies=tuple(remedies),
                    entitlements=tuple(Entitlement(e["name"], e["description"])
                                       for e in data["then"]["entitlements"]),
                    withdrawals=withdrawals,
                    first_of=data.get("first_of"),
                )
                index += 1
                if index % 250 == 0:
                    self.progress("checking rules", index, max(total, index))
                try:
                    compile_rule(rule, fields)
                except CompileError as error:
                    self.problem(file, line, str(error), rule_id, "when")
                    continue
                rules.append(rule)
            if is_table(document):
                self.problems[first_problem:] = table_cell_problems(
                    self.problems[first_problem:], document, items)
        self.withdrawn_entitlements_exist(rules)
        return rules

    def withdrawals(self, items, then, kinds, file, rule_id) -> tuple[Withdrawal, ...]:
        found = []
        for i, item in enumerate(items):
            if "remedy" in item and item["remedy"] not in kinds:
                self.problem(file, then["withdraw"].line_of(i),
                             f"withdraws unknown remedy kind `{item['remedy']}`; known: "
                             f"{', '.join(sorted(kinds))}", rule_id, f"then.withdraw.{i}.remedy")
                continue
            what = "remedy" if "remedy" in item else "entitlement"
            found.append(Withdrawal(what, item[what], item["reason"]))
            self.written[rule_id, len(found) - 1] = (then["withdraw"].line_of(i), i)
        return tuple(found)

    def withdrawn_entitlements_exist(self, rules: list[Rule]) -> None:
        """Every entitlement withdrawn is granted by some rule (as written: a rule with a
        problem of its own still grants what it names)."""
        granted = self.entitlements_written
        for rule in rules:
            for number, withdrawal in enumerate(rule.withdrawals):
                if withdrawal.what == "entitlement" and withdrawal.name not in granted:
                    line, index = self.written.get((rule.id, number), (rule.line, number))
                    self.problem(rule.file, line,
                                 f"withdraws entitlement `{withdrawal.name}`, which no rule "
                                 f"grants; granted: {', '.join(sorted(granted)) or 'none'}",
                                 rule.id, f"then.withdraw.{index}.entitlement")

    def remedy(self, remedy, kinds, currencies, file, line, rule_id, field, max_percent,
               raw=None):
        """The proposal, or None with every problem, each on the line of the key at fault
        when `raw` (the remedy's mapping as read) knows it."""

        def line_of(*keys: str) -> int:
            node = raw
            for key in keys:
                if not hasattr(node, "line_of") or not hasattr(node, "get") or \
                        node.get(key) is None:
                    return line
                found, node = node.line_of(key), node[key]
            return found or line

        ok = True
        if remedy["kind"] not in kinds:
            self.problem(file, line, f"unknown remedy kind `{remedy['kind']}`; known: "
                         f"{', '.join(sorted(kinds))}", rule_id, f"{field}.kind")
            ok = False
        else:
            kind = kinds[remedy["kind"]]
            ceiling = None if kind.statutory else (kind.ceiling_percent or max_percent)
            for label, percent in (("percent", remedy.get("percent")),
                                   ("cap.percent", (remedy.get("cap") or {}).get("percent"))):
                if percent is not None and ceiling is not None and percent > ceiling:
                    self.problem(file, line_of(*label.split(".")),
                                 f"{percent}% is above the ceiling of {ceiling}% of the order "
                                 f"value for {kind.name}; a kind fixed by law says "
                                 "`statutory: true`, another may have its own `ceiling_percent`",
                                 rule_id, f"{field}.{label}")
                    ok = False
        amounts = remedy.get("amount")
        cap = remedy.get("cap") or {}
        for label, table in (("amount", amounts), ("cap.amount", cap.get("amount"))):
            if table is None:
                continue
            missing = [c for c in currencies if c not in table]
            extra = [c for c in table if c not in currencies]
            if missing:
                self.problem(file, line, f"no amount for {', '.join(missing)}", rule_id,
                             f"{field}.{label}")
                ok = False
            if extra:
                self.problem(file, line, f"{', '.join(extra)} is not a currency of this policy",
                             rule_id, f"{field}.{label}")
                ok = False
        if not ok:
            return None
        compute = cap_compute = None
        for label, text in (("compute", remedy.get("compute")),
                            ("cap.compute", cap.get("compute"))):
            if text is None:
                continue
            formula = self.formulas.read(text, Type.MONEY, "a remedy's value" if label ==
                                         "compute" else "a cap")
            if isinstance(formula, str):
                self.problem(file, line_of(*label.split(".")[:1]), f"{label}: {formula}",
                             rule_id, f"{field}.{label}")
                ok = False
            elif label == "compute":
                compute = formula
            else:
                cap_compute = formula
        if not ok:
            return None
        basis = (Basis.PERCENT if "percent" in remedy else Basis.AMOUNT if "amount" in remedy
                 else Basis.COMPUTE if "compute" in remedy else Basis(remedy["value"]))
        return RemedyProposal(
            kind=remedy["kind"], basis=basis, percent=remedy.get("percent"),
            amounts=tuple(sorted((amounts or {}).items())),
            cap_percent=cap.get("percent"),
            cap_amounts=tuple(sorted((cap.get("amount") or {}).items())),
            reason=remedy.get("reason"),
            compute=compute,
            cap_compute=cap_compute,
        )

    def preferred_kinds(self, prefer, document, files, kinds) -> None:
        for kind in prefer:
            if kind not in kinds:
                self.problem(str(files[ROLES_FILE]), document["grant_now"].line_of("prefer"),
                             f"unknown remedy kind `{kind}` in grant_now.prefer; known: "
                             f"{', '.join(sorted(kinds))}", field="grant_now.prefer")

    def roles(self, loaded, document, files, kinds, currencies):
        if loaded is None:
            return {}, ()
        file = str(files[ROLES_FILE])
        roles: dict[str, Role] = {}
        for name, spec in loaded["roles"].items():
            raw = document["roles"][name]
            tables = {}
            for table_name in ("per_incident_limit", "per_agent_daily_budget", "per_order_cap",
                               "per_customer_cap"):
                table = spec.get(table_name)
                if table is None:
                    tables[table_name] = None
                    continue
                line = raw.line_of(table_name)
                for currency in currencies:
                    if currency not in table:
                        words = table_name.replace("per_", "per-").replace("_", " ")
                        self.problem(file, line, f"role `{name}` has no {words} in {currency}",
                                     field=f"roles.{name}.{table_name}.{currency}")
                for currency in table:
                    if currency not in currencies:
                        self.problem(file, line, f"{currency} is not a currency of this policy",
                                     field=f"roles.{name}.{table_name}.{currency}")
                tables[table_name] = tuple(sorted((c, Decimal(v)) for c, v in table.items()))
            for kind in spec["remedies"]:
                if kind not in kinds:
                    self.problem(file, raw.line_of("remedies"), f"unknown remedy kind `{kind}`",
                                 field=f"roles.{name}.remedies")
            roles[name] = Role(name, spec["description"], remedies=frozenset(spec["remedies"]),
                               admin=spec["admin"], policy_owner=spec["policy_owner"], **tables)
        escalation = tuple(loaded["escalation"])
        line = document.line_of("escalation")
        for name in escalation:
            if name not in roles:
                self.problem(file, line, f"escalation names `{name}`, which is not a role",
                             field="escalation")
        for name in roles:
            if name not in escalation:
                self.problem(file, document["roles"].line_of(name),
                             f"role `{name}` is missing from the escalation chain",
                             field="escalation")
        if len(set(escalation)) != len(escalation):
            self.problem(file, line, "a role appears twice in the escalation chain",
                         field="escalation")
        return roles, escalation

    def grantable(self, rules, roles, files) -> None:
        allowed = set().union(*(role.remedies for role in roles.values())) if roles else set()
        for rule in rules:
            for remedy in rule.remedies:
                if roles and remedy.kind not in allowed:
                    self.problem(rule.file, rule.line, f"no role may grant `{remedy.kind}`",
                                 rule.id, "then.remedies")

    def engine_limits(self, policy: Policy) -> None:
        # New versions only: one activated before keeps loading (it decided as it did).
        for problem in fact_shape_problems(list(policy.fields)) if checked_as_new() else ():
            self.problem(str(Path(policy.directory) / POLICY_FILE), 0, problem)
        try:
            pack([compile_rule(rule, policy.fields) for rule in policy.rules])
        except CompileError as error:
            self.problem(policy.directory, 0, str(error))

    def tests(self, loaded, document, path, policy: Policy) -> tuple[PolicyTest, ...]:
        file = str(path)
        tests = []
        names: dict[str, int] = {}  # test name -> its line
        for raw, data in self.validate_items(PolicyTestSchema(), document["tests"], file, "name"):
            if policy.roles and data["role"] not in policy.roles:  # none: roles.yaml failed
                self.problem(file, raw.line_of("role"), f"unknown role `{data['role']}`",
                             field=f"test {data['name']}: role")
            try:
                self.read_incident(_plain(raw["incident"]), policy)
            except IncidentInvalid as error:
                # A version activated before: an incident the service now refuses makes its
                # test fail (run_policy_tests says why), not the version unloadable.
                for field_path, messages in error.errors.items() if checked_as_new() else ():
                    self.problem(file, raw.line_of("incident"), " ".join(messages),
                                 field=f"test {data['name']}: incident.{field_path}")
            if checked_as_new() and data["name"] in names:
                self.problem(file, raw.line, f"a test named `{data['name']}` comes before "
                             f"(line {names[data['name']]}): name each test once",
                             field=f"test {data['name']}: name")
            names.setdefault(data["name"], raw.line)
            # (`expect.fired` and `expect.offers` may name what the policy no longer has: the
            # test then fails, and `policy test --update` can rewrite it.)
            for rule_id in data["expect"].get("rules", []):
                if rule_id not in policy.rules_by_id:
                    self.problem(file, raw.line_of("expect"), f"unknown rule `{rule_id}`",
                                 field=f"test {data['name']}: expect.rules")
            tests.append(PolicyTest(data["name"], data["role"], _plain(raw["incident"]),
                                    data["prior_failures"], data["expect"], file, raw.line))
        return tuple(tests)


def _has(node, key) -> bool:
    if isinstance(node, LineDict):
        return key in node
    return isinstance(node, LineList) and isinstance(key, int) and 0 <= key < len(node)


def _plain(node):
    """YAML values as JSON would carry them: amounts and dates as strings."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, Decimal):
        return str(node)
    if isinstance(node, date):
        return node.isoformat()
    return node


class FormulaReader:
    """Expressions of a policy, checked against its facts (types and choices by path)."""

    def __init__(self, fields, currencies, holidays):
        self.types = {path: fact_type(spec.type.name, spec.unit)
                      for path, spec in fields.items()}
        self.choices = {path: spec.choices for path, spec in fields.items() if spec.choices}
        self.currencies, self.holidays = tuple(currencies), holidays

    def read(self, text: str, expect: Type | None, what: str) -> Formula | str:
        """The checked formula, or what is wrong with it (with the column)."""
        try:
            return Formula(compile_expression(text, self.types, self.currencies, expect,
                                              choices=self.choices, what=what,
                                              strict=checked_as_new()), self.holidays)
        except ExpressionError as error:
            return str(error)


def table_cell_problems(problems: list[Problem], document, items) -> list[Problem]:
    """Problems of a decision table's rows as its owner reads them: a remedy cell's by row and
    column under the table's id, and an unknown remedy kind once, on its output column."""
    table = document["table"]
    columns = len(table.get("inputs") or ())
    outputs = list(table.get("outputs") or ())
    kinds = {output["remedy"]: number for number, output in enumerate(outputs)
             if isinstance(output, dict) and "remedy" in output}
    rows = {item.get("id"): item for item in items}
    said: list[Problem] = []
    unknown: set[str] = set()
    for problem in problems:
        item = rows.get(problem.rule)
        field = problem.field or ""
        if item is None or not field.startswith("then.remedies.") or "row" not in item:
            said.append(problem)
            continue
        index, _, rest = field.removeprefix("then.remedies.").partition(".")
        kind = item["then"]["remedies"][int(index)]["kind"]
        if kind not in kinds:
            said.append(problem)
            continue
        if rest == "kind":
            if kind not in unknown:
                unknown.add(kind)
                said.append(Problem(problem.file, table["outputs"].line_of(kinds[kind]),
                                    problem.message, table.get("id"), "table.outputs"))
            continue
        column = columns + kinds[kind] + 1
        row = item["row"]
        said.append(Problem(problem.file, problem.line,
                            f"row {row}, column {column} (remedy {kind}): {problem.message}",
                            table.get("id"), f"rows.{row}.remedy.{kind}.{rest}"))
    return said


def _entitlement_names(items) -> set[str]:
    """The entitlement names rules grant, as written (before any rule is checked)."""
    names = set()
    for item in items or ():
        then = item.get("then") if isinstance(item, dict) else None
        for entitlement in (then or {}).get("entitlements") or () if isinstance(then, dict) \
                else ():
            if isinstance(entitlement, dict) and isinstance(entitlement.get("name"), str):
                names.add(entitlement["name"])
    return names
