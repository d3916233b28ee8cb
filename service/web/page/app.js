// Amends' page for policy owners: plain ES module, no build step, no network but Amends.
// Every figure comes from the same API any client uses, with the caller's key or token, so
// the page can do nothing the caller's role could not.

const CREDENTIAL = "amends.credential"; // sessionStorage: this tab only, until sign-out
const TAB = "amends.tab";
const SVG = "http://www.w3.org/2000/svg";

// The example incident of the README, as the playground starts.
const EXAMPLE = {
  incident_id: "INC-1001",
  customer: { id: "C-42", tier: "gold", lifetime_value: "5400.00", prior_failures: 0 },
  order: { id: "O-9", value: "120.00", currency: "EUR", shipping_fee: "7.50",
           upgrade_cost: "30.00" },
  failure: { category: "late_delivery", severity: 2, avoidable: false,
             description: "parcel two days late" },
  customer_ask: { remedy: "refund", amount: "120.00" },
};

const MAX_CHOICES = 1000; // versions listed in the selects, newest first
// How often the page asks which version is active (also when the tab is shown again, and
// when a playground answer was made by another version): another client may activate one.
const POLICY_CHECK_MS = 30_000;
const DEFAULT_SAMPLE = 10; // changed decisions a replay shows when the form says nothing

const state = {
  credential: null,
  session: 0, // one more at each sign-in and sign-out: answers of an earlier one are dropped
  me: null,
  policy: null,
  versions: [], // the versions table, a page at a time
  versionsCursor: null,
  versionsLoaded: false,
  choices: null, // every version (up to MAX_CHOICES), for the selects
  choicesMore: false,
  outcomesLoaded: false,
  replay: null, // the what-if run shown: {body, total, parts}
  rules: [], // [{rule, element, text}]
  asked: 0, // one more at each Decide and each time the page refills the form: answers of
  // an earlier one are dropped (they belong to a form no longer there)
  shown: null, // the decision shown: {body (the incident, as JSON), version}
  checking: null, // the check of the active version on its way
};

// ---- small DOM helpers ---------------------------------------------------------------

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** An element: `props` sets class, text, attributes (`attrs`), properties and `on` events;
 * children are nodes or strings (always text, never HTML). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function applyProps(node, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "attrs") {
      for (const [attr, attrValue] of Object.entries(value)) {
        if (attrValue !== undefined && attrValue !== null && attrValue !== false) {
          node.setAttribute(attr, attrValue === true ? "" : String(attrValue));
        }
      }
    } else if (name === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else node[name] = value;
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function clear(node) {
  node.replaceChildren();
  return node;
}

function money(value) {
  return value ? `${value.amount} ${value.currency}` : "—";
}

function moment(text) {
  if (!text) return "—";
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function shortVersion(version) {
  return version ? version.slice(0, 12) : "—";
}

function versionCode(version) {
  return el("code", { class: "version", text: shortVersion(version), title: version || "" });
}

function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  return `${Math.round(Number(rate) * 1000) / 10}%`;
}

function words(name) {
  return String(name ?? "").replaceAll("_", " ");
}

function yesNo(value) {
  return value ? "yes" : "no";
}

function table(headers, rows, props = {}) {
  return el("div", { class: "table-wrap" },
    el("table", props,
      props.caption ? el("caption", { text: props.caption }) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { attrs: { scope: "col" } }, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) => (
        i === 0 ? el("th", { attrs: { scope: "row" } }, c) : el("td", {}, c))))))));
}

// ---- the API, and errors in plain words ----------------------------------------------

class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

/** The answer to a request of an earlier sign-in (the caller signed out, or in again since):
 * it belongs to that session and is dropped, never shown. */
class StaleAnswer extends Error {}

async function api(path, { method = "GET", body, query } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(name, value);
    }
    if ([...params].length) url += `?${params}`;
  }
  const session = state.session;
  const headers = { Accept: "application/json" };
  if (state.credential) headers.Authorization = `Bearer ${state.credential}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    if (session !== state.session) throw new StaleAnswer();
    throw new ApiError("Amends could not be reached. Check that it is running and try again.",
      0, null);
  }
  let text = null;
  try {
    text = await response.text();
  } catch {
    text = null;  // the connection dropped while the answer came
  }
  if (session !== state.session) throw new StaleAnswer();
  if (text === null) {
    throw new ApiError("Amends stopped answering half-way. Check that it is running and try "
      + "again.", 0, null);
  }
  // Amends answers JSON, and its errors as problems (application/problem+json). Anything
  // else came from something in between: a proxy, a gateway, a sign-in page.
  const type = (response.headers.get("Content-Type") || "").toLowerCase();
  let data = null;
  let json = false;
  try {
    data = text ? JSON.parse(text) : null;
    json = /\bjson\b/.test(type);
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = json && type.startsWith(PROBLEM) && data && typeof data === "object"
      ? data : null;
    throw new ApiError(plainWords(response.status, problem), response.status, problem);
  }
  if (text && !json) throw new ApiError(NOT_AMENDS, response.status, null);
  return data;
}

const PROBLEM = "application/problem+json";
const NOT_AMENDS = "The answer did not come from Amends (not JSON): a proxy or sign-in page in "
  + "between? Reload the page, or sign in again, and try again.";

/** An error in plain words; `problem`: the problem Amends answered, null when the answer
 * is not one of Amends' (a proxy's or gateway's page). */
function plainWords(status, problem) {
  const detail = problem && problem.detail ? problem.detail : "";
  if (!problem && status >= 500) {
    return `The server answered ${status}, and not as Amends answers (not JSON): a proxy or `
      + "gateway in front of Amends may have failed, or Amends may be down or restarting. Try "
      + "again in a moment, or tell whoever runs Amends.";
  }
  switch (status) {
    case 400: return `Amends could not read the request. ${detail}`;
    case 401: return `Amends did not accept this key or token. ${detail} Sign in again with a valid one.`;
    case 403: return `Your role may not do this. ${detail}`;
    case 404: return `Not found. ${detail}`;
    case 409: return `This clashes with what is stored. ${detail}`;
    case 413: return "The request is too large for Amends.";
    case 422: return detail || "Some values cannot be used.";
    case 503: return detail ? `Amends cannot answer right now. ${detail} Try again in a moment.`
      : "Amends cannot reach its database right now. Try again in a moment.";
    default:
      if (status >= 500) {
        return "Amends failed on this request (it has been logged). Try again, or tell " +
          "whoever runs Amends.";
      }
      return `Amends answered ${status}. ${detail}`;
  }
}

function showError(box, error) {
  clear(box);
  const message = error instanceof ApiError ? error.message : `Something went wrong: ${error}`;
  box.append(el("p", { text: message.trim() }));
  const problem = error instanceof ApiError ? error.problem : null;
  if (problem && problem.errors && typeof problem.errors === "object") {
    box.append(el("ul", {}, Object.entries(problem.errors).map(([field, messages]) => el("li", {},
      el("strong", { text: field === "_schema" ? "The request" : field }), ": ",
      [].concat(messages).join(" ")))));
  }
  if (problem && Array.isArray(problem.reasons) && problem.reasons.length) {
    box.append(el("ul", {}, problem.reasons.map((reason) => el("li", { text: reason }))));
  }
  box.hidden = false;
}

function hideError(box) {
  box.hidden = true;
  clear(box);
}

/** Run `work` with the button busy, errors shown in `box` in plain words. An answer that
 * belongs to an earlier sign-in is dropped without a word. The button keeps the focus it had
 * (disabling it for the while drops the focus to the page). */
async function busy(button, box, work) {
  const session = state.session;
  if (box) hideError(box);
  const label = button ? button.textContent : "";
  const focused = Boolean(button) && document.activeElement === button;
  const token = {};  // this use of the button: a sign-out, or a later use, ends it
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.busyToken = token;
  }
  try {
    return await work();
  } catch (error) {
    if (error instanceof StaleAnswer || session !== state.session) return undefined;
    if (box) showError(box, error);
    else throw error;
    if (error instanceof ApiError && error.status === 401) signOut(error);
    return undefined;
  } finally {
    if (button && button.busyToken === token) {
      idle(button);
      button.textContent = label;
      if (focused && session === state.session && button.isConnected && !button.hidden
          && isLost(document.activeElement)) button.focus();
    }
  }
}

function idle(button) {
  button.disabled = false;
  button.removeAttribute("aria-busy");
  delete button.busyToken;
}

/** Whether the focus is nowhere in particular: on the page itself, or on nothing. */
function isLost(element) {
  return !element || element === document.body || element === document.documentElement;
}

// ---- signing in ----------------------------------------------------------------------

async function signIn(credential) {
  if (!/^[\x20-\x7e]+$/.test(credential)) {  // what an HTTP header carries as it is
    throw new ApiError("A key or token is letters, digits, punctuation and spaces, with no "
      + "line breaks or other characters. Check what was pasted.", 0, null);
  }
  state.session += 1;
  state.credential = credential;
  const policy = await api("/v1/policy");
  const me = await api("/v1/me");
  sessionStorage.setItem(CREDENTIAL, credential);
  state.policy = policy;
  state.me = me;
  showApp();
}

function signOut(error) {
  sessionStorage.removeItem(CREDENTIAL);
  // Answers still on their way belong to this sign-in: they are dropped when they come.
  Object.assign(state, { credential: null, session: state.session + 1, me: null, policy: null,
    versions: [], versionsCursor: null, versionsLoaded: false, choices: null,
    choicesMore: false, outcomesLoaded: false, outcomes: null, replay: null, rules: [],
    asked: state.asked + 1, shown: null, checking: null });
  for (const id of ["decision", "versions-list", "diff", "replay-report", "outcomes-report",
    "rules", "request-json"]) {
    clear($(`#${id}`));
  }
  for (const button of $$("button[aria-busy]")) idle(button);  // its answer will not come
  // What the last user typed or chose is not the next one's.
  $("#rule-search").value = "";
  $("#rule-count").textContent = "";
  for (const id of ["diff-form", "replay-form", "outcomes-form"]) $(`#${id}`).reset();
  for (const select of [$("#diff-old"), $("#diff-new"), $("#candidate-version")]) {
    clear(select);
    delete select.dataset.touched;
  }
  onCandidateKind();
  for (const id of ["who-principal", "who-role", "who-policy"]) $(`#${id}`).textContent = "";
  for (const box of $$(".error")) hideError(box);  // the last user's errors, too
  $("#versions-notice").hidden = true;
  hidePolicyNotice();
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#signin").hidden = false;
  const box = $("#signin-error");
  if (error) showError(box, error);
  else hideError(box);
  $("#credential").value = "";
  $("#credential").focus();
}

function showSignIn() {
  $("#app").hidden = true;
  $("#who").hidden = true;
  $("#signin").hidden = false;
  $("#credential").focus();
}

function showApp() {
  showWho();
  $("#who").hidden = false;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  renderPolicy();
  setUpPlayground();
  const wanted = sessionStorage.getItem(TAB) || "policy";
  const tab = $(`#tab-${wanted}`);
  selectTab(tab && !tab.hidden ? wanted : "policy", true);  // focus leaves the hidden form
  followHash();  // a link to a part of the policy (#policy-roles) shows it
}

/** The header, and the tabs the caller's role may see. */
function showWho() {
  const { me, policy } = state;
  $("#who-principal").textContent = me.principal;
  $("#who-role").textContent = words(me.role);
  $("#who-policy").textContent = `Policy ${policy.name} · ${shortVersion(policy.version)}`;
  for (const tab of $$("[role=tab][data-owner]")) tab.hidden = !me.owns_policy;
}

// ---- the active version, when another client changes it --------------------------------

/** Whether the version active now is the one the page shows (`GET /v1/me` names it); when
 * it is not, the page shows the new one and says so. Errors are left to the next check,
 * but a key no longer accepted signs out. */
function checkPolicy() {
  if (!state.policy) return Promise.resolve();
  if (state.checking) return state.checking;
  const session = state.session;
  const check = (async () => {
    try {
      const me = await api("/v1/me");
      if (session !== state.session || !state.policy) return;
      if (me.policy && me.policy.version !== state.policy.version) await followPolicy();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401 && session === state.session) {
        signOut(error);
      }
    } finally {
      if (state.checking === check) state.checking = null;
    }
  })();
  state.checking = check;
  return check;
}

/** The policy made active since the page last read it (by another client, mostly):
 * shown everywhere, and said so. */
async function followPolicy() {
  const policy = await api("/v1/policy");
  const me = await api("/v1/me");
  const before = state.policy.version;
  if (policy.version === before) return;  // shown meanwhile (made active here)
  showPolicy(policy, me);
  const notice = clear($("#policy-notice"));
  notice.append(el("p", {}, "The active policy version changed from ", versionCode(before),
    " to ", versionCode(policy.version), ": this page now shows ", versionCode(policy.version),
    ". New decisions use it."),
  el("button", { type: "button", class: "secondary", text: "Dismiss",
    on: { click: hidePolicyNotice } }));
  notice.hidden = false;
  if (state.versionsLoaded) await loadVersions(true);
}

function hidePolicyNotice() {
  const notice = $("#policy-notice");
  notice.hidden = true;
  clear(notice);
}

/** `policy` (and `me`, as that version sees the caller) shown in the header, the tabs, the
 * Policy tab and the playground, whose form keeps what was typed where the version allows. */
function showPolicy(policy, me) {
  const typed = formValues();
  const before = JSON.stringify(readForm());
  state.policy = policy;
  if (me) state.me = me;
  showWho();
  const selected = $("[role=tab][aria-selected=true]");
  if (!selected || selected.hidden) selectTab("policy", false);
  renderPolicy();
  setUpPlayground(typed);
  if (JSON.stringify(readForm()) !== before) forgetAsked();  // not the incident asked about
  settleDecision();
}

// ---- tabs ----------------------------------------------------------------------------

function selectTab(name, focus = true) {
  for (const tab of $$("[role=tab]")) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  sessionStorage.setItem(TAB, name);
  // This entry of the history shows this tab: Back to it shows it again.
  history.replaceState({ ...historyState(), tab: name }, "");
  if (name === "versions" && !state.versionsLoaded) loadVersions(true);
  if (name === "whatif") prepareReplay();
  if (name === "outcomes" && !state.outcomesLoaded) loadOutcomes();
}

/** The tab that holds the element the address names (#policy-roles): selected, and the
 * element scrolled to. Whether there was one. */
function followHash() {
  if (!state.policy) return false;
  let id = "";
  try {
    id = decodeURIComponent(location.hash.slice(1));
  } catch {
    return false;
  }
  const target = id ? document.getElementById(id) : null;
  const panel = target ? target.closest("[role=tabpanel]") : null;
  const tab = panel ? document.getElementById(panel.getAttribute("aria-labelledby")) : null;
  if (!tab || tab.hidden) return false;
  if (tab.getAttribute("aria-selected") !== "true") selectTab(tab.id.slice(4), false);
  target.scrollIntoView();
  return true;
}

function historyState() {
  const saved = history.state;
  return saved && typeof saved === "object" ? saved : {};
}

function followHistory() {
  if (!state.policy || followHash()) return;
  const wanted = historyState().tab;
  const tab = typeof wanted === "string" ? document.getElementById(`tab-${wanted}`) : null;
  if (tab && !tab.hidden && tab.getAttribute("aria-selected") !== "true") {
    selectTab(wanted, false);
  }
}

function onTabKey(event) {
  const tabs = $$("[role=tab]").filter((tab) => !tab.hidden);
  const at = tabs.indexOf(document.activeElement);
  if (at < 0) return;
  let next = null;
  if (event.key === "ArrowRight") next = tabs[(at + 1) % tabs.length];
  else if (event.key === "ArrowLeft") next = tabs[(at - 1 + tabs.length) % tabs.length];
  else if (event.key === "Home") next = tabs[0];
  else if (event.key === "End") next = tabs[tabs.length - 1];
  if (next) {
    event.preventDefault();
    selectTab(next.id.slice(4));
  }
}

// ---- the active policy ---------------------------------------------------------------

function renderPolicy() {
  const policy = state.policy;
  const head = clear($("#policy-head"));
  head.append(
    el("h1", {}, `Policy ${policy.name}`),
    el("p", { class: "muted" }, "Active version ", versionCode(policy.version),
      policy.effective_from ? ` · effective from ${policy.effective_from}` : "",
      ` · ${policy.rule_count} rules · currencies ${policy.currencies.join(", ")}`),
    policy.description ? el("p", { class: "lead", text: policy.description }) : null);
  if (policy.last_refused) {
    const refused = policy.last_refused;
    head.append(el("div", { class: "notice warn", attrs: { role: "status" } },
      el("p", {}, `The last attempt to activate a new version (${shortVersion(refused.version)}, `
        + `${moment(refused.at)}) was refused; this version kept serving:`),
      el("ul", {}, refused.reasons.map((reason) => el("li", { text: reason })))));
  }
  const failing = Array.isArray(policy.failing_tests) ? policy.failing_tests : [];
  if (failing.length) {
    head.append(el("div", { class: "notice warn", attrs: { role: "status" } },
      el("p", {}, `${failing.length} of this version's own test cases fail under this Amends `
        + "(an earlier release activated it; it serves all the same). Activate a version "
        + "whose tests pass:"),
      el("ul", {}, failing.map((test) => el("li", {
        text: `${test.name} (${test.file}:${test.line}): ${(test.problems || []).join("; ")}`,
      })))));
  }
  renderRules(policy);
  renderRoles(policy);
  renderRemedyKinds(policy);
  renderFacts(policy);
  renderSettings(policy);
}

const ROW = /^(.*) \(row (\d+)\)$/;

/** Rules by file, in order; the rows of a decision table (described "... (row N)") become
 * one table. */
function groupRules(rules) {
  const files = [];
  for (const rule of rules) {
    let file = files.find((f) => f.file === rule.file);
    if (!file) files.push(file = { file: rule.file || "(no file)", items: [] });
    const row = ROW.exec(rule.description || "");
    if (row) {
      const tableId = rule.table || (/\.\d+$/.test(rule.id) ? rule.id.replace(/\.\d+$/, "") : null);
      const last = file.items[file.items.length - 1];
      if (last && last.kind === "table" && last.caption === row[1]) {
        last.rows.push({ rule, number: Number(row[2]) });
        if (!last.id && tableId) last.id = tableId;
        continue;
      }
      file.items.push({ kind: "table", caption: row[1], id: tableId,
                        rows: [{ rule, number: Number(row[2]) }] });
    } else file.items.push({ kind: "rule", rule });
  }
  return files;
}

function thenList(then) {
  if (then === undefined || then === null) return null;
  const items = Array.isArray(then) ? then : [then];
  if (items.length === 1) return el("span", { text: items[0] });
  return el("ul", { class: "plain" }, items.map((item) => el("li", { text: item })));
}

function searchText(rule) {
  const then = rule.then ? [].concat(rule.then).join(" ") : "";
  // Not its file: "version <hash>/amounts.yaml" would make "version" or "yaml" match them all.
  return [rule.id, rule.description, rule.when || "", then].join(" ").toLowerCase();
}

function renderRules(policy) {
  const root = clear($("#rules"));
  state.rules = [];
  for (const group of groupRules(policy.rules || [])) {
    const section = el("section", { class: "file-group" },
      el("h3", {}, el("span", { class: "file-name", text: group.file.split("/").pop(),
        title: group.file }),
        el("span", { class: "muted count" })));
    const body = el("div", { class: "rule-cards" });
    for (const item of group.items) {
      if (item.kind === "rule") {
        const rule = item.rule;
        const card = el("article", { class: "rule", attrs: { "data-rule": rule.id } },
          el("header", {}, el("code", { class: "rule-id", text: rule.id }),
            rule.priority !== undefined ? el("span", { class: "priority",
              text: `priority ${rule.priority}` }) : null),
          el("p", { class: "desc", text: rule.description || "" }),
          rule.when !== undefined || rule.then !== undefined
            ? el("dl", { class: "when-then" },
              el("dt", { text: "When" }), el("dd", { text: rule.when || "always" }),
              el("dt", { text: "Then" }), el("dd", {}, thenList(rule.then) || "—"))
            : null);
        body.append(card);
        state.rules.push({ rule, element: card, text: searchText(rule) });
      } else {
        const hasWhen = item.rows.some((r) => r.rule.when !== undefined);
        const rows = item.rows.map(({ rule, number }) => {
          const row = el("tr", { attrs: { "data-rule": rule.id } },
            el("th", { attrs: { scope: "row" }, text: String(number) }),
            el("td", {}, el("code", { text: rule.id })),
            hasWhen ? el("td", { text: rule.when || "always" }) : null,
            hasWhen ? el("td", {}, thenList(rule.then) || "—") : null);
          state.rules.push({ rule, element: row, text: searchText(rule) });
          return row;
        });
        const first = item.rows[0].rule;
        body.append(el("div", { class: "decision-table table-wrap" },
          el("table", {},
            el("caption", {}, el("span", { class: "badge", text: "Decision table" }), " ",
              item.id ? el("code", { text: item.id }) : null, " ", item.caption,
              first.priority !== undefined ? el("span", { class: "muted",
                text: ` · priority ${first.priority}` }) : null),
            el("thead", {}, el("tr", {},
              ["Row", "Rule", ...(hasWhen ? ["When", "Then"] : [])].map((h) => el("th", {
                attrs: { scope: "col" }, text: h })))),
            el("tbody", {}, rows))));
      }
    }
    section.append(body);
    root.append(section);
  }
  if (!policy.rules.some((rule) => rule.when !== undefined)) {
    root.prepend(el("p", { class: "hint" },
      "This Amends shows each rule's description; its conditions are in the rule files."));
  }
  filterRules();
}

function filterRules() {
  const query = $("#rule-search").value.trim().toLowerCase();
  const terms = query.split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const entry of state.rules) {
    const match = terms.every((term) => entry.text.includes(term));
    entry.element.hidden = !match;
    if (match) shown += 1;
  }
  for (const table of $$("#rules .decision-table")) {
    table.hidden = $$("tbody tr", table).every((row) => row.hidden);
  }
  for (const group of $$("#rules .file-group")) {
    const visible = $$("[data-rule]", group).filter((node) => !node.hidden).length;
    group.hidden = visible === 0;
    $(".count", group).textContent = ` · ${visible} rule${visible === 1 ? "" : "s"}`;
  }
  const total = state.rules.length;
  $("#rule-count").textContent = terms.length ? `${shown} of ${total} rules` : `${total} rules`;
  const none = $("#rules-none");
  if (none) none.remove();
  if (terms.length && shown === 0) {
    $("#rules").append(el("p", { id: "rules-none", class: "notice",
      text: `No rule has “${query}” in its id or text.` }));
  }
}

const LIMITS = [["per_incident_limit", "Per incident"], ["per_agent_daily_budget",
  "Per person a day"], ["per_order_cap", "Per order"], ["per_customer_cap", "Per customer"]];

function limitCell(table, currency) {
  if (table === null || table === undefined) return "no cap";
  const value = table[currency];
  return value === undefined ? "—" : value;
}

function renderRoles(policy) {
  const root = clear($("#roles"));
  root.append(el("p", {}, "Approvals go up the escalation: ",
    policy.escalation.map((name, i) => [i ? " → " : "", el("strong", { text: words(name) })]),
    ". An offer beyond a role's limits needs the lowest role whose limits cover it."));
  const cards = el("div", { class: "role-cards" });
  for (const role of policy.roles) {
    const currencies = [...new Set([
      ...Object.keys(role.per_incident_limit || {}), ...Object.keys(role.per_agent_daily_budget || {}),
      ...Object.keys(role.per_order_cap || {}), ...Object.keys(role.per_customer_cap || {}),
    ])];
    const mine = state.me && state.me.role === role.name;
    cards.append(el("article", { class: `card role${mine ? " mine" : ""}`,
      attrs: { "data-role": role.name } },
      el("h3", {}, words(role.name), mine ? el("span", { class: "badge", text: "your role" }) : null,
        role.admin ? el("span", { class: "badge", text: "admin" }) : null,
        role.policy_owner ? el("span", { class: "badge", text: "policy owner" }) : null),
      role.description ? el("p", { text: role.description }) : null,
      el("p", {}, el("strong", { text: "May grant: " }),
        role.remedies.length ? role.remedies.map(words).join(", ") : "nothing"),
      table(["Limit", ...currencies], LIMITS.map(([name, label]) => [label,
        ...currencies.map((c) => limitCell(role[name], c))]), { class: "limits" })));
  }
  root.append(cards);
  if (policy.rolling_window_days) {
    root.append(el("p", { class: "hint",
      text: `Per-customer caps count the last ${policy.rolling_window_days} days; daily budgets `
        + `start at midnight in ${policy.day_starts_in || "UTC"}.` }));
  }
}

function renderRemedyKinds(policy) {
  const root = clear($("#remedy-kinds"));
  root.append(table(["Kind", "What it is", "Can be sized down", "Combines with others",
    "Fixed by law", "Own ceiling"], policy.remedy_kinds.map((kind) => [
    words(kind.name), kind.description || "", yesNo(kind.scales), yesNo(kind.combines),
    yesNo(kind.statutory), kind.ceiling_percent ? `${kind.ceiling_percent}% of the order` : "—",
  ])));
}

function bandsText(bands) {
  if (!bands || !bands.length) return "";
  return bands.map((band) => (band.bound === null || band.bound === undefined
    ? `${band.value} otherwise`
    : `${band.value} ${band.inclusive ? "up to" : "below"} ${band.bound}`)).join("; ");
}

function renderFacts(policy) {
  const root = clear($("#facts"));
  root.append(el("h3", { text: "Context facts (sent with the incident)" }));
  if (policy.context && policy.context.length) {
    root.append(table(["Fact", "Type", "Required", "Values", "Meaning"],
      policy.context.map((fact) => [el("code", { text: `context.${fact.name}` }), fact.type,
        yesNo(fact.required),
        fact.values && fact.values.length ? fact.values.join(", ") : (fact.unit || "—"),
        fact.description || ""])));
  } else root.append(el("p", { class: "muted", text: "This policy reads no context facts." }));
  root.append(el("h3", { text: "Derived facts (worked out by the policy)" }));
  if (policy.derived && policy.derived.length) {
    root.append(table(["Fact", "Type", "Worked out as", "Meaning"],
      policy.derived.map((fact) => [el("code", { text: `derived.${fact.name}` }), fact.type,
        el("span", {}, el("code", { text: fact.compute || "" }),
          fact.bands && fact.bands.length ? el("br") : null, bandsText(fact.bands)),
        fact.description || ""])));
  } else root.append(el("p", { class: "muted", text: "This policy derives no facts." }));
}

function grantNowText(choice) {
  if (!choice) return "—";
  const parts = [];
  if (choice.ask_first) parts.push("what the customer asks for first");
  if (choice.prefer && choice.prefer.length) {
    parts.push(`then ${choice.prefer.map(words).join(", ")}, in that order`);
  }
  return parts.join("; ") || "the largest set the role may grant";
}

function renderSettings(policy) {
  const root = clear($("#settings"));
  const entries = [
    ["Failure categories", (policy.failure_categories || []).map(words).join(", ")],
    ["Customer tiers", (policy.customer_tiers || []).join(", ")],
    ["Most compensation", policy.max_compensation_percent
      ? `${policy.max_compensation_percent}% of the order value` : "—"],
    ["Earlier incidents count for", `${policy.history_window_days} days`],
    ["grant_now chooses", grantNowText(policy.grant_now)],
    ["Holidays", (policy.holidays || []).join(", ") || "none"],
  ];
  root.append(el("dl", { class: "settings" }, entries.map(([term, value]) => [
    el("dt", { text: term }), el("dd", { text: value })])));
  const rates = policy.exchange_rates;
  if (rates) {
    const rows = [];
    for (const [into, table_] of Object.entries(rates.rates)) {
      for (const [from, rate] of Object.entries(table_)) rows.push([`1 ${from}`, `${rate} ${into}`]);
    }
    root.append(el("h3", { text: `Exchange rates (as of ${rates.as_of})` }),
      table(["From", "Worth"], rows));
  }
}

// ---- playground ----------------------------------------------------------------------

function pick(values, wanted) {
  return values.includes(wanted) ? wanted : (values[0] ?? "");
}

function exampleIncident(policy) {
  const body = structuredClone(EXAMPLE);
  body.order.currency = pick(policy.currencies || [], EXAMPLE.order.currency);
  body.failure.category = pick(policy.failure_categories || [], EXAMPLE.failure.category);
  const tiers = policy.customer_tiers || [];
  if (tiers.length && !tiers.includes(body.customer.tier)) body.customer.tier = tiers[0];
  const kinds = (policy.remedy_kinds || []).map((kind) => kind.name);
  if (!kinds.includes(body.customer_ask.remedy)) delete body.customer_ask;
  return body;
}

function options(select, values, { empty } = {}) {
  clear(select);
  if (empty !== undefined) select.append(el("option", { value: "", text: empty }));
  for (const value of values) {
    const [name, label] = Array.isArray(value) ? value : [value, value];
    select.append(el("option", { value: name, text: label }));
  }
}

/** The playground for the active version: its choices and context facts, and the example
 * incident, or `typed` (the form's values, as `formValues` read them) where they still fit. */
function setUpPlayground(typed) {
  const policy = state.policy;
  const form = $("#incident-form");
  options(form.elements["customer.tier"], policy.customer_tiers || [], { empty: "— none —" });
  options(form.elements["order.currency"], policy.currencies || []);
  options(form.elements["failure.category"],
    (policy.failure_categories || []).map((c) => [c, words(c)]));
  options(form.elements["customer_ask.remedy"],
    (policy.remedy_kinds || []).map((k) => [k.name, words(k.name)]),
    { empty: "— nothing in particular —" });
  const grid = clear($("#context-grid"));
  for (const fact of policy.context || []) grid.append(contextField(fact));
  $("#context-fields").hidden = !(policy.context || []).length;
  $("#deciding-as").textContent = `Deciding as ${words(state.me.role)}: your role's limits `
    + "and running totals apply, as for a real decision.";
  if (typed) restoreForm(typed);
  else fillForm(exampleIncident(policy));
}

/** What the form holds, control by control, as typed. */
function formValues() {
  const values = new Map();
  for (const control of $("#incident-form").elements) {
    if (!control.name || control.type === "radio") continue;
    values.set(control.name, control.type === "checkbox" ? control.checked : control.value);
  }
  return values;
}

/** The form as `values` had it, but for a choice the version no longer offers, and a
 * control it no longer has. */
function restoreForm(values) {
  for (const control of $("#incident-form").elements) {
    if (!control.name || !values.has(control.name)) continue;
    const value = values.get(control.name);
    if (control.type === "checkbox") control.checked = value;
    else if (control.tagName !== "SELECT"
      || [...control.options].some((option) => option.value === value)) control.value = value;
  }
}

/** Answers to the playground's requests on their way are dropped: the form they were for
 * is gone (back to the example, or refilled for another version). */
function forgetAsked() {
  state.asked += 1;
  const button = $("#decide");
  if (button.busyToken) idle(button);
  hideError($("#playground-error"));
}

/** The decision shown stays only beside the incident it was made for, by the version
 * active now. */
function settleDecision() {
  const shown = state.shown;
  if (!shown) return;
  if (shown.version !== state.policy.version || shown.body !== JSON.stringify(readForm())) {
    clear($("#decision"));
    state.shown = null;
  }
}

function contextField(fact) {
  const name = `context.${fact.name}`;
  let control;
  if (fact.type === "boolean") {
    control = el("select", { name });
    options(control, [["true", "yes"], ["false", "no"]], { empty: "— not given —" });
  } else if (fact.type === "enum") {
    control = el("select", { name });
    options(control, fact.values || [], { empty: "— not given —" });
  } else if (fact.type === "date") control = el("input", { name, type: "date" });
  else if (fact.type === "integer") control = el("input", { name, type: "number", step: "1" });
  else control = el("input", { name, inputMode: fact.type === "decimal" ? "decimal" : "text" });
  control.dataset.type = fact.type;
  const label = `${words(fact.name)}${fact.unit ? ` (${fact.unit})` : ""}${fact.required ? " *" : ""}`;
  control.id = `in-context-${fact.name}`;
  return el("div", { class: "field", title: fact.description || "" },
    el("label", { htmlFor: control.id, text: label }), control);
}

function fillForm(body) {
  const form = $("#incident-form");
  for (const control of form.elements) {
    if (!control.name || control.type === "radio") continue;
    const [section, field] = control.name.includes(".") ? control.name.split(".") : [null, control.name];
    const value = section ? (body[section] || {})[field] : body[field];
    if (control.type === "checkbox") control.checked = Boolean(value);
    else control.value = value === undefined || value === null ? "" : String(value);
  }
  $("#request-json").textContent = JSON.stringify(body, null, 2);
}

function readForm() {
  const form = $("#incident-form");
  const body = { customer: {}, order: {}, failure: {}, customer_ask: {}, context: {} };
  for (const control of form.elements) {
    if (!control.name) continue;
    const [section, field] = control.name.includes(".") ? control.name.split(".") : [null, control.name];
    let value;
    if (control.type === "checkbox") value = control.checked;
    else {
      value = control.value.trim();
      if (value === "") continue;
      if (["prior_failures", "severity"].includes(field) || control.dataset.type === "integer") {
        value = /^-?\d+$/.test(value) ? Number(value) : value;
      } else if (control.dataset.type === "boolean") value = value === "true";
    }
    if (section) body[section][field] = value;
    else body[field] = value;
  }
  if (!body.customer_ask.remedy) delete body.customer_ask;
  if (!Object.keys(body.context).length) delete body.context;
  return body;
}

async function decide(event) {
  event.preventDefault();
  const body = readForm();
  $("#request-json").textContent = JSON.stringify(body, null, 2);
  const result = clear($("#decision"));
  state.shown = null;
  const asked = ++state.asked;
  await busy($("#decide"), $("#playground-error"), async () => {
    let decision;
    try {
      decision = await api("/v1/decisions/preview", { method: "POST", body });
    } catch (error) {
      if (asked !== state.asked) throw new StaleAnswer();  // its form is gone: not a word
      throw error;
    }
    if (asked !== state.asked) throw new StaleAnswer();
    renderDecision(result, decision);
    state.shown = { body: JSON.stringify(body), version: decision.policy.version };
    // Made by another version than the page shows: another client made it active.
    if (decision.policy.version !== state.policy.version) checkPolicy();
  });
}

function approvalText(offer) {
  if (offer.approval === "not_required") return "You may grant it";
  return offer.approver_role ? `Needs approval by ${words(offer.approver_role)}` : "Needs approval";
}

function offerName(offer) {
  const amount = offer.percent ? `${offer.percent}% · ` : "";
  return `${words(offer.remedy)} ${amount}${money(offer.value)}`;
}

function renderDecision(root, decision) {
  clear(root);
  const outlook = decision.recovery.outlook;
  const byId = Object.fromEntries(decision.offers.map((offer) => [offer.id, offer]));
  const grant = decision.grant_now;
  const grantBox = el("section", { class: "grant-now", id: "grant-now",
    attrs: { "aria-labelledby": "grant-now-title" } },
    el("h3", { id: "grant-now-title", text: "grant_now — what you may grant together, now" }));
  if (grant && grant.offers.length) {
    grantBox.append(
      el("ul", { class: "plain" }, grant.offers.map((id) => el("li", { text: byId[id]
        ? `${offerName(byId[id])}${byId[id].variant === "capped" ? " (capped to your limit)" : ""}`
        : id }))),
      el("p", { class: "total" }, "Total ", el("strong", { id: "grant-now-total",
        text: money(grant.total) })));
  } else {
    grantBox.append(el("p", { text: decision.offers.length
      ? "Nothing: every offer needs approval." : "Nothing: nothing is offered." }));
  }

  root.append(el("div", { class: "card result" },
    el("div", { class: `outlook outlook-${outlook}`, id: "outlook" },
      "Recovery is ", el("strong", { text: outlook })),
    decision.recovery.factors.length ? el("ul", { class: "factors" },
      decision.recovery.factors.map((f) => el("li", { class: `factor ${f.effect}` },
        el("strong", { text: words(f.name) }), ` ${f.effect}`,
        el("span", { class: "muted", text: ` · ${f.rule}` })))) : null,
    grantBox,
    el("h3", { text: "Offers" }),
    decision.offers.length ? table(["Offer", "Approval", "Why", "Rule"],
      decision.offers.map((offer) => [
        el("span", {}, offerName(offer),
          offer.variant === "capped" ? el("span", { class: "badge", text: "capped" }) : null,
          grant && grant.offers.includes(offer.id)
            ? el("span", { class: "badge good", text: "in grant_now" }) : null),
        el("span", { class: offer.approval === "not_required" ? "ok" : "needs" },
          approvalText(offer)),
        offer.reason, offer.rule ? el("code", { text: offer.rule }) : "—"]), { class: "offers" })
      : el("p", { class: "muted", text: "No offers." }),
    el("h3", { text: "Steps" }),
    decision.steps.length ? el("ol", { class: "steps" }, decision.steps.map((s) => el("li", {
      text: s.after_days !== undefined ? `${words(s.step)} after ${s.after_days} days` : words(s.step),
    }))) : el("p", { class: "muted", text: "No steps." }),
    decision.entitlements.length ? [el("h3", { text: "Also owed" }),
      el("ul", {}, decision.entitlements.map((e) => el("li", {}, el("strong", { text: words(e.name) }),
        `: ${e.description}`, el("span", { class: "muted", text: ` · ${e.rule}` }))))] : null,
    decision.withdrawn.length ? [el("h3", { text: "Withdrawn by an exemption" }),
      el("ul", {}, decision.withdrawn.map((w) => el("li", {
        text: `${words(w.remedy || w.entitlement)}: ${w.reason} (${w.rule})` })))] : null,
    decision.notes.length ? [el("h3", { text: "Notes" }),
      el("ul", { class: "notes" }, decision.notes.map((n) => el("li", { text: n })))] : null,
    el("h3", { text: "Trace: the rules that fired, in order" }),
    el("ol", { class: "trace", id: "trace" }, decision.trace.map((t) => el("li", {},
      el("code", { text: t.rule }), ` ${t.description}`,
      el("span", { class: "muted", text: ` · priority ${t.priority}` })))),
    el("p", { class: "muted small" }, `Decided for ${words(decision.role)} by policy `
      + `${decision.policy.name} `, versionCode(decision.policy.version),
      ` · prior failures ${decision.prior_failures} · nothing was stored`)));
  root.querySelector(".result").setAttribute("data-policy-version", decision.policy.version);
}

// ---- versions ------------------------------------------------------------------------

async function loadVersions(reset) {
  const box = $("#versions-error");
  const more = $("#versions-more");
  const focused = !reset && document.activeElement === more;
  const shown = reset ? 0 : state.versions.length;
  const session = state.session;
  let loaded = false;
  await busy(reset ? null : more, box, async () => {
    const page = await api("/v1/policy/versions", { query: {
      limit: 50, cursor: reset ? undefined : state.versionsCursor } });
    state.versions = reset ? page.versions : state.versions.concat(page.versions);
    state.versionsCursor = page.next_cursor;
    state.versionsLoaded = true;
    renderVersions();
    loaded = true;
    if (reset) {  // the selects list every version, not only the table's first page
      state.choices = page.versions;
      state.choicesMore = Boolean(page.next_cursor);
      try {
        if (page.next_cursor) await loadVersionChoices();
      } finally {
        if (session === state.session) renderVersionChoices();
      }
    }
  });
  // "Show older versions" gone with the last page: the first row it brought takes the focus.
  if (loaded && focused && more.hidden && isLost(document.activeElement)) {
    const row = $$("#versions-list tbody tr")[shown];
    const head = row ? $("th", row) : null;
    if (head) {
      head.tabIndex = -1;
      head.focus();
    }
  }
}

/** Every version, newest first, a page of 200 at a time (at most MAX_CHOICES). */
async function loadVersionChoices() {
  const all = [];
  let cursor;
  do {
    const page = await api("/v1/policy/versions", { query: { limit: 200, cursor } });
    all.push(...page.versions);
    cursor = page.next_cursor;
  } while (cursor && all.length < MAX_CHOICES);
  state.choices = all.slice(0, MAX_CHOICES);
  state.choicesMore = Boolean(cursor) || all.length > MAX_CHOICES;
}

function renderVersions() {
  const root = clear($("#versions-list"));
  const versions = state.versions;
  root.append(table(["Version", "Status", "First activated", "Activations", ""],
    versions.map((v) => [
      el("span", {}, versionCode(v.version), el("span", { class: "muted", text: ` ${v.name}` })),
      v.active ? el("span", { class: "badge good", text: "active" }) : "",
      `${moment(v.first_activated_at)} by ${v.first_activated_by}`,
      el("details", {}, el("summary", { text: `${v.activations.length}, last `
        + `${moment(v.last_activated_at)}` }),
        el("ul", { class: "plain small" }, v.activations.map((a) => el("li", {
          text: `${moment(a.activated_at)} by ${a.activated_by} (${a.via})` })))),
      v.active || !state.me.owns_policy ? "" : el("button", { type: "button",
        class: "secondary", text: "Make active…", attrs: { "data-activate": v.version,
          "aria-label": `Make version ${shortVersion(v.version)} active` },
        on: { click: () => confirmActivate(v) } }),
    ]), { class: "versions" }));
  $("#versions-more").hidden = !state.versionsCursor;
}

/** The diff's From and To and the what-if candidate: every version loaded for them. */
function renderVersionChoices() {
  const versions = state.choices || state.versions;
  for (const select of [$("#diff-old"), $("#diff-new"), $("#candidate-version")]) {
    const before = select.value;
    options(select, versions.map((v) => [v.version,
      `${shortVersion(v.version)} · ${v.name}${v.active ? " (active)" : ""} · `
        + `${moment(v.first_activated_at)}`]));
    if (state.choicesMore) {
      select.append(el("option", { value: "", disabled: true,
        text: `— only the newest ${MAX_CHOICES} versions are listed —` }));
    }
    if (versions.some((v) => v.version === before)) select.value = before;
  }
  if (versions.length > 1 && !$("#diff-old").dataset.touched) {
    const active = versions.find((v) => v.active) || versions[0];
    const other = versions.find((v) => v !== active);
    $("#diff-old").value = other.version;
    $("#diff-new").value = active.version;
  }
  if (!$("#candidate-version").dataset.touched) {
    const candidate = versions.find((v) => !v.active) || versions[0];
    if (candidate) $("#candidate-version").value = candidate.version;
  }
}

function confirmActivate(version) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = `Version ${shortVersion(version.version)} of policy `
    + `${version.name}, first activated ${moment(version.first_activated_at)} by `
    + `${version.first_activated_by}, becomes the active policy. New decisions use it at `
    + "once; decisions already made keep the version that made them.";
  dialog.returnValue = "";
  dialog.onclose = () => {
    if (dialog.returnValue === "confirm") activate(version);
  };
  dialog.showModal();
  $("#confirm-cancel").focus();
}

async function activate(version) {
  const session = state.session;
  const notice = $("#versions-notice");
  const box = $("#versions-error");
  notice.hidden = true;
  let result = null;
  await busy(null, box, async () => {
    result = await api(`/v1/policy/versions/${encodeURIComponent(version.version)}/activate`,
      { method: "POST" });
  });
  if (session !== state.session) return;
  if (result) {
    // Done, as its answer says, whatever becomes of reading the policy to show it.
    hidePolicyNotice();
    clear(notice).append(result.changed
      ? `Version ${shortVersion(result.version)} is now the active policy. New decisions use it.`
      : `Version ${shortVersion(result.version)} was the active policy already.`);
    notice.hidden = false;
    let failed = null;
    try {
      const policy = await api("/v1/policy");
      const me = await api("/v1/me");
      showPolicy(policy, me);  // the playground's fields and choices are the new version's
    } catch (error) {
      if (error instanceof StaleAnswer || session !== state.session) return;
      failed = error;
    }
    await loadVersions(true);
    if (session !== state.session) return;
    if (failed) {
      if (failed instanceof ApiError && failed.status === 401) {
        signOut(failed);
        return;
      }
      const message = `The page could not load version ${shortVersion(result.version)} to show `
        + `it: ${failed instanceof ApiError ? failed.message : failed} The Policy tab and the `
        + "playground still show the version before; the page tries again shortly, or reload it.";
      if (box.hidden) showError(box, new ApiError(message, 0, null));
      else box.append(el("p", { text: message }));
    }
  }
  // The button that opened the dialog is gone with the table it was in: the focus goes to
  // what came of it, the notice or the error.
  const target = result ? notice : box;
  if (!target.hidden && isLost(document.activeElement)) target.focus();
}

async function showDiff(event) {
  event.preventDefault();
  $("#diff-old").dataset.touched = "yes";
  const old = $("#diff-old").value;
  const now = $("#diff-new").value;
  const root = $("#diff");
  await busy($("#diff-form button[type=submit]"), $("#versions-error"), async () => {
    const diff = await api(`/v1/policy/versions/${encodeURIComponent(old)}/diff/`
      + `${encodeURIComponent(now)}`);
    clear(root).append(el("section", { class: "card diff", id: "diff-result" },
      el("h3", {}, "From ", versionCode(diff.old.version), " to ", versionCode(diff.new.version)),
      diff.changed ? el("ul", { class: "diff-lines" }, diff.lines.map((line) => el("li", {
        text: line }))) : el("p", { text: "The two versions are the same." }),
      diff.changed ? el("p", { class: "muted small", text: `Rules: ${diff.rules.added.length} `
        + `added, ${diff.rules.removed.length} removed, ${diff.rules.changed.length} changed. `
        + `Roles: ${diff.roles.added.length} added, ${diff.roles.removed.length} removed, `
        + `${diff.roles.changed.length} changed. Settings: ${diff.settings.length} changed.` })
        : null));
  });
}

// ---- what-if -------------------------------------------------------------------------

function prepareReplay() {
  if (!state.versionsLoaded) loadVersions(true);
}

function candidateKind() {
  return $("#replay-form").elements["candidate-kind"].value;
}

function onCandidateKind() {
  const folder = candidateKind() === "folder";
  $("#candidate-folder-field").hidden = !folder;
  $("#candidate-version-field").hidden = folder;
}

/** The form's day (yyyy-mm-dd) as the moment it starts in this browser's time zone, with its
 * offset (2026-11-01T00:00:00+13:00): the days of a period are the user's days, as every
 * time on the page is shown in the user's time zone. `after`: the midnight that ends it. */
function dayStart(day, after = false) {
  const parts = /^(\d{4,})-(\d{2})-(\d{2})$/.exec(day || "");
  if (!parts) return day || undefined;  // nothing, or not a day: Amends says what is wrong
  const date = new Date(2000, 0, 1);
  date.setFullYear(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3]) + (after ? 1 : 0));
  date.setHours(0, 0, 0, 0);  // where midnight is skipped, the day starts when it does
  if (Number.isNaN(date.getTime())) return day;
  const offset = -date.getTimezoneOffset();
  if (!Number.isInteger(offset)) return date.toISOString();  // an offset with seconds: UTC
  const pad = (number, width = 2) => String(number).padStart(width, "0");
  const hours = Math.floor(Math.abs(offset) / 60);
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
    + `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
    + `${offset < 0 ? "-" : "+"}${pad(hours)}:${pad(Math.abs(offset) % 60)}`;
}

/** A period of days ends on or after the day it starts (sent as midnights, a period from the
 * 2nd to the 1st would be an empty one, not a mistake Amends could name). */
function checkDays(since, until) {
  if (since && until && since > until) {
    throw new ApiError("The period starts after it ends: “From” must not be after “To”.", 0,
      null);
  }
}

function timeZoneName() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

function replayBody() {
  const candidate = candidateKind() === "folder"
    ? { folder: $("#candidate-folder").value.trim() }
    : { version: $("#candidate-version").value };
  const body = { candidate };
  const since = dayStart($("#replay-since").value);
  const until = dayStart($("#replay-until").value, true);
  if (since) body.since = since;
  if (until) body.until = until;
  const sample = $("#replay-sample").value.trim();
  if (sample) body.sample = /^\d+$/.test(sample) ? Number(sample) : sample;
  return body;
}

async function runReplay(event) {
  if (event) event.preventDefault();
  // The run keeps its request: "Replay the rest" sends it again as it was, with the cursor.
  const run = { body: replayBody(), total: null, parts: 0 };
  state.replay = run;
  clear($("#replay-report"));  // the last run's report is not this one's, failed or not
  await busy($("#replay-run"), $("#replay-error"), async () => {
    checkDays($("#replay-since").value, $("#replay-until").value);
    const report = await api("/v1/policy/replay", { method: "POST", body: run.body });
    if (state.replay !== run) return;  // a newer run started meanwhile
    run.total = report;
    run.parts = 1;
    renderReplay(run);
  });
}

async function replayTheRest(button) {
  const run = state.replay;
  if (!run || !run.total || !run.total.next_cursor) return;
  const body = { ...run.body, cursor: run.total.next_cursor };
  await busy(button, $("#replay-error"), async () => {
    const part = await api("/v1/policy/replay", { method: "POST", body });
    if (state.replay !== run) return;
    if (part.candidate.version !== run.total.candidate.version) {
      throw new ApiError(`The candidate's rules changed while it was replayed (version `
        + `${shortVersion(run.total.candidate.version)} became `
        + `${shortVersion(part.candidate.version)}): the parts cannot be added up. Run the `
        + "replay again.", 0, null);
    }
    run.total = addReplays(run.total, part, wantedSample(run.body));
    run.parts += 1;
    renderReplay(run);
    const next = $("#replay-rest");  // the button pressed is gone with the report it was in
    (next || $("#replay-result h3")).focus();
  });
}

function wantedSample(body) {
  return Number.isInteger(body.sample) ? body.sample : DEFAULT_SAMPLE;
}

// ---- adding up the parts of a replay ---------------------------------------------------

/** A decimal string as an integer of its smallest unit, and its number of decimals. */
function decimalParts(text) {
  const parts = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text));
  return parts ? { sign: parts[1], whole: parts[2], fraction: parts[3] || "" } : null;
}

/** a + b, both decimal strings, exactly (amounts of one currency, as Amends rounds them). */
function addDecimals(a, b) {
  const x = decimalParts(a);
  const y = decimalParts(b);
  if (!x || !y) return String(Number(a) + Number(b));
  const scale = Math.max(x.fraction.length, y.fraction.length);
  const units = (p) => BigInt(`${p.sign}${p.whole}${p.fraction.padEnd(scale, "0")}`);
  const sum = units(x) + units(y);
  const digits = (sum < 0n ? -sum : sum).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return sum < 0n ? `-${text}` : text;
}

function byText(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** [{<key>: name, decisions}] of both, added up by name, the most decisions first. */
function addCounted(a, b, key) {
  const counts = new Map();
  for (const item of [...a, ...b]) {
    counts.set(item[key], (counts.get(item[key]) || 0) + item.decisions);
  }
  return [...counts].map(([name, decisions]) => ({ [key]: name, decisions }))
    .sort((x, y) => y.decisions - x.decisions);
}

function addMoves(a, b) {
  const moves = new Map();
  for (const move of [...a, ...b]) {
    const name = `${move.before}>${move.after}`;
    const known = moves.get(name);
    if (known) known.decisions += move.decisions;
    else moves.set(name, { ...move });
  }
  return [...moves.values()].sort((x, y) => y.decisions - x.decisions);
}

function addMoney(a, b) {
  const FIGURES = ["offered_before", "offered_after", "approval_free_before",
    "approval_free_after"];
  const rows = new Map(a.map((row) => [row.currency, { ...row }]));
  for (const row of b) {
    const known = rows.get(row.currency);
    if (!known) rows.set(row.currency, { ...row });
    else for (const figure of FIGURES) known[figure] = addDecimals(known[figure], row[figure]);
  }
  return [...rows.values()].sort((x, y) => byText(x.currency, y.currency));
}

function addRules(a, b) {
  const rules = new Map(a.map((r) => [r.rule, { ...r }]));
  for (const r of b) {
    const known = rules.get(r.rule);
    if (!known) rules.set(r.rule, { ...r });
    else {
      known.fired_before += r.fired_before;
      known.fired_after += r.fired_after;
    }
  }
  // As Amends orders them: the most changed first, then by id.
  return [...rules.values()].sort((x, y) => (Math.abs(y.fired_after - y.fired_before)
    - Math.abs(x.fired_after - x.fired_before)) || byText(x.rule, y.rule));
}

function earlier(a, b) {
  if (!a || !b) return a || b;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

function later(a, b) {
  if (!a || !b) return a || b;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/** The report of a replay so far and of its next part, as one: every count, money figure
 * and rule added up; the sample the first changed decisions of both. The candidate, the
 * period and the decisions in it are the first part's (later parts read on from its cursor,
 * older decisions of the same period). */
function addReplays(total, part, sampleSize) {
  const seconds = Math.round((total.seconds + part.seconds) * 1000) / 1000;
  const replayed = total.replayed + part.replayed;
  return {
    ...total,
    replayed,
    replayed_from: earlier(total.replayed_from, part.replayed_from),
    replayed_to: later(total.replayed_to, part.replayed_to),
    compared: total.compared + part.compared,
    not_decidable: total.not_decidable + part.not_decidable,
    not_decidable_reasons: addCounted(total.not_decidable_reasons, part.not_decidable_reasons,
      "reason"),
    role_missing: total.role_missing + part.role_missing,
    role_missing_roles: addCounted(total.role_missing_roles, part.role_missing_roles, "role"),
    changed: {
      decisions: total.changed.decisions + part.changed.decisions,
      outlook: total.changed.outlook + part.changed.outlook,
      offers: total.changed.offers + part.changed.offers,
      approvals: total.changed.approvals + part.changed.approvals,
      outlook_moves: addMoves(total.changed.outlook_moves, part.changed.outlook_moves),
    },
    money: addMoney(total.money, part.money),
    rules: addRules(total.rules, part.rules),
    sample: total.sample.concat(part.sample).slice(0, sampleSize),
    complete: part.complete,
    next_cursor: part.next_cursor,
    seconds,
    per_second: seconds ? Math.round((replayed / seconds) * 10) / 10 : 0,
  };
}

function stat(label, value, id) {
  return el("div", { class: "stat", id },
    el("span", { class: "stat-value", text: String(value) }),
    el("span", { class: "stat-label", text: label }));
}

function answerColumn(title, answer, highlight, marker) {
  return el("div", { class: "answer" },
    el("h4", { text: title }),
    el("p", {}, "Outlook ", el("strong", { class: `outlook-text ${answer.outlook}`,
      text: answer.outlook })),
    el("ul", { class: "plain offers-list" }, answer.offers.map((offer) => {
      const key = offerKey(offer);
      const changed = highlight.has(key);
      // Marked in words too, not by its colour alone.
      return el("li", { class: changed ? "changed-offer" : "" },
        changed ? el("span", { class: "change-mark", text: marker }) : null,
        changed ? " " : null,
        offerName(offer), " · ", el("span", { class: offer.approval === "not_required"
          ? "ok" : "needs", text: offer.approval === "not_required" ? "no approval"
          : `approval by ${words(offer.approver_role || "?")}` }),
        offer.in_grant_now ? el("span", { class: "badge good", text: "grant_now" }) : null);
    })),
    el("p", {}, "grant_now total ", el("strong", { text: money(answer.grant_now_total) })),
    el("p", { class: "muted small" }, "Rules: ", answer.rules.join(", ") || "none"));
}

function offerKey(offer) {
  return `${offer.remedy}|${offer.variant}|${offer.value.amount}|${offer.value.currency}`;
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** Where a replay stands when decisions of the period are left, and the button for them. */
function replayProgress(run) {
  const report = run.total;
  const sofar = `The figures below ${run.parts > 1 ? `add up the ${run.parts} parts replayed, `
    : "cover "}${plural(report.replayed, "decision")} of the ${report.in_period} in the period`
    + `${report.replayed ? `, the newest (decided ${moment(report.replayed_from)} to `
      + `${moment(report.replayed_to)})` : ""}.`;
  if (report.next_cursor) {
    return el("div", { class: "notice warn", id: "replay-progress" },
      el("p", { text: `${report.complete ? `One call replays at most ${report.limit} decisions.`
        : "Time ran out before every decision of the period was replayed."} ${sofar}` }),
      el("button", { type: "button", class: "secondary", id: "replay-rest",
        text: "Replay the rest", on: { click: (event) => replayTheRest(event.currentTarget) } }));
  }
  if (run.parts > 1) {
    return el("div", { class: "notice", id: "replay-progress" },
      el("p", { text: `Every decision of the period was replayed, in ${run.parts} parts: the `
        + `figures below add them all up (${plural(report.replayed, "decision")}).` }));
  }
  return null;
}

function renderReplay(run) {
  const report = run.total;
  const root = clear($("#replay-report"));
  const changed = report.changed;
  const candidate = report.candidate;
  const shown = report.sample.length;
  let none = null;
  if (!shown) {
    none = changed.decisions === 0 ? "No decision would change."
      : `${plural(changed.decisions, "decision")} would change; none is shown here `
        + `(“Changed decisions to show” is ${wantedSample(run.body)}).`;
  }
  root.append(el("section", { class: "card", id: "replay-result" },
    el("h3", { tabIndex: -1 }, "Replay of ", `${candidate.name} `, versionCode(candidate.version),
      el("span", { class: "muted", text: ` · ${candidate.source}` })),
    candidate.failing_tests.length ? el("div", { class: "notice warn" },
      el("p", { text: "The candidate's own tests fail (it was replayed all the same):" }),
      el("ul", {}, candidate.failing_tests.map((t) => el("li", { text: t })))) : null,
    el("p", { class: "muted", id: "replay-period" }, `Period ${report.period.since
      ? moment(report.period.since) : "from the first decision"} to `
      + `${moment(report.period.until)} (${timeZoneName() || "your time"}) · `
      + `${report.in_period} decisions in the period, ${report.replayed} replayed in `
      + `${report.seconds} s`),
    replayProgress(run),
    el("div", { class: "stats" },
      stat("decisions would change", changed.decisions, "replay-changed"),
      stat("outlook changes", changed.outlook),
      stat("offers change", changed.offers),
      stat("approvals change", changed.approvals),
      stat("replayed", report.replayed, "replay-replayed"),
      stat("compared", report.compared),
      stat("not decidable", report.not_decidable),
      stat("role missing", report.role_missing)),
    report.not_decidable_reasons.length ? el("ul", { class: "small" },
      report.not_decidable_reasons.map((r) => el("li", {
        text: `${r.decisions} not decidable: ${r.reason}` }))) : null,
    report.role_missing_roles.length ? el("ul", { class: "small" },
      report.role_missing_roles.map((r) => el("li", {
        text: `${r.decisions} decided for role ${r.role}, which the candidate lacks` }))) : null,
    el("h4", { text: "Money before and after" }),
    report.money.length ? [moneyChart(report.money), table(["Currency", "Offered before",
      "Offered after", "Grantable without approval before", "… after"],
      report.money.map((m) => [m.currency, m.offered_before, m.offered_after,
        m.approval_free_before, m.approval_free_after]), { class: "replay-money" })]
      : el("p", { class: "muted", text: "No money in these decisions." }),
    changed.outlook_moves.length ? [el("h4", { text: "Outlook moves" }),
      table(["Before", "After", "Decisions"], changed.outlook_moves.map((m) => [m.before,
        m.after, String(m.decisions)]))] : null,
    rulesFired(report.rules),
    el("h4", { id: "replay-sample-title", text: `Changed decisions, side by side (${shown} of `
      + `${changed.decisions} shown)` }),
    shown ? [el("p", { class: "hint", text: "In each, “removed” marks an offer the candidate "
      + "no longer makes, and “added” one it makes that the stored decision did not." }),
    el("div", { class: "samples" }, report.sample.map(sampleCard))]
      : el("p", { class: "muted", id: "replay-none", text: none })));
}

function rulesFired(rules) {
  const moved = rules.filter((r) => r.fired_before !== r.fired_after);
  const same = rules.length - moved.length;
  return [el("h4", { text: "Rules that fire more or less often" }),
    moved.length ? table(["Rule", "Decisions before", "After", "Change"], moved.map((r) => [
      el("code", { text: r.rule }), String(r.fired_before), String(r.fired_after),
      signed(r.fired_after - r.fired_before)])) : null,
    el("p", { class: "muted small", text: moved.length
      ? `The other ${same} rules that fired fire as often as before.`
      : `Every rule that fired (${same}) fires as often as before.` })];
}

function signed(number) {
  return number > 0 ? `+${number}` : String(number);
}

function sampleCard(sample) {
  const added = new Set(sample.added.map(offerKey));
  const removed = new Set(sample.removed.map(offerKey));
  return el("article", { class: "sample" },
    el("header", {}, el("strong", { text: sample.incident_id }),
      el("span", { class: "muted", text: ` · ${moment(sample.decided_at)} · for `
        + `${words(sample.role)} · changed: ${sample.changed.join(", ")}` })),
    el("div", { class: "side-by-side" },
      answerColumn("Before (stored)", sample.before, removed, "removed"),
      answerColumn("After (candidate)", sample.after, added, "added")));
}

/** Grouped horizontal bars: per currency, offered and grantable-without-approval amounts
 * before and after. */
function moneyChart(rows) {
  const series = [];
  for (const row of rows) {
    series.push({ label: `${row.currency} offered`, bars: [
      { value: Number(row.offered_before), text: `${row.offered_before} before`, cls: "before" },
      { value: Number(row.offered_after), text: `${row.offered_after} after`, cls: "after" }] });
    series.push({ label: `${row.currency} without approval`, bars: [
      { value: Number(row.approval_free_before), text: `${row.approval_free_before} before`,
        cls: "before" },
      { value: Number(row.approval_free_after), text: `${row.approval_free_after} after`,
        cls: "after" }] });
  }
  // Currencies are not comparable: each currency's bars share a scale of their own.
  const maxByCurrency = {};
  for (const s of series) {
    const currency = s.label.slice(0, 3);
    for (const bar of s.bars) maxByCurrency[currency] = Math.max(maxByCurrency[currency] || 0, bar.value);
  }
  for (const s of series) {
    const max = maxByCurrency[s.label.slice(0, 3)] || 1;
    for (const bar of s.bars) bar.fraction = bar.value / max;
  }
  return barChart(series, { id: "money-chart", title: "Money before and after, per currency",
    legend: [["before", "before (stored decisions)"], ["after", "after (candidate)"]] });
}

/** A horizontal bar chart as SVG: `series` is [{label, bars: [{fraction 0..1, text, cls}]}]. */
function barChart(series, { id, title, legend = [] }) {
  const width = 760;
  const labelWidth = 230;
  const barHeight = 18;
  const gap = 4;
  const groupGap = 14;
  const top = legend.length ? 30 : 6;
  const barArea = width - labelWidth - 170;
  let y = top;
  const children = [];
  legend.forEach(([cls, text], i) => {
    const x = labelWidth + i * 220;
    children.push(svg("rect", { x, y: 6, width: 14, height: 14, class: `bar ${cls}` }),
      svg("text", { x: x + 20, y: 18, class: "legend" }, text));
  });
  for (const group of series) {
    const groupHeight = group.bars.length * (barHeight + gap) - gap;
    const label = group.label.length > 32 ? `${group.label.slice(0, 31)}…` : group.label;
    children.push(svg("text", { x: labelWidth - 10, y: y + groupHeight / 2 + 5,
      "text-anchor": "end", class: "label" }, svg("title", {}, group.label), label));
    for (const bar of group.bars) {
      const length = Math.max(bar.fraction > 0 ? 2 : 0, Math.round(barArea * (bar.fraction || 0)));
      children.push(svg("rect", { x: labelWidth, y, width: length, height: barHeight,
        rx: 2, class: `bar ${bar.cls || ""}` }, svg("title", {}, `${group.label}: ${bar.text}`)),
      svg("text", { x: labelWidth + length + 6, y: y + barHeight - 4, class: "value" }, bar.text));
      y += barHeight + gap;
    }
    y += groupGap - gap;
  }
  const height = y + 4;
  return el("figure", { class: "chart" }, svg("svg", { id, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": title, preserveAspectRatio: "xMinYMin meet" },
  svg("title", {}, title),
  svg("line", { x1: labelWidth, x2: labelWidth, y1: top - 2, y2: height - 4, class: "axis" }),
  children), el("figcaption", { class: "muted small", text: title }));
}

// ---- outcomes ------------------------------------------------------------------------

const BY_HEADERS = { rule: "Rule", remedy: "Remedy granted", outlook: "Predicted outlook",
  version: "Policy version" };
const RATES = { recovered: "recovered", accepted: "accepted", satisfied: "satisfied",
  stayed: "stayed" };

async function loadOutcomes(event) {
  if (event) event.preventDefault();
  state.outcomesLoaded = true;
  const by = $("#outcomes-by").value;
  await busy($("#outcomes-show"), $("#outcomes-error"), async () => {
    checkDays($("#outcomes-since").value, $("#outcomes-until").value);
    const report = await api("/v1/reports/outcomes", { query: { by,
      since: dayStart($("#outcomes-since").value),
      until: dayStart($("#outcomes-until").value, true) } });
    state.outcomes = report;
    renderOutcomes();
  });
}

function groupLabel(by, key) {
  if (key === null || key === undefined) return by === "remedy" ? "nothing granted" : "—";
  return by === "version" ? shortVersion(key) : words(key);
}

function rateText(rate) {
  return rate.n ? `${percent(rate.rate)} (${rate.count} of ${rate.n})` : "no outcomes (n = 0)";
}

function renderOutcomes() {
  const report = state.outcomes;
  if (!report) return;
  const which = $("#outcomes-rate").value;
  const root = clear($("#outcomes-report"));
  const total = report.total;
  const series = report.groups.map((group) => {
    const rate = group[which];
    return { label: groupLabel(report.by, group.key), bars: [{
      fraction: rate.n ? Number(rate.rate) : 0, cls: "rate",
      text: rate.n ? `${percent(rate.rate)} · n = ${rate.n}` : "n = 0, no outcomes" }] };
  });
  const calibration = report.calibration;
  root.append(el("section", { class: "card", id: "outcomes-result" },
    el("h3", { text: `${RATES[which][0].toUpperCase()}${RATES[which].slice(1)} rate by `
      + `${(BY_HEADERS[report.by] || report.by).toLowerCase()}` }),
    el("p", { class: "muted", id: "outcomes-period" }, `${moment(report.since)} to `
      + `${moment(report.until)} (${timeZoneName() || "your time"}) · `
      + `${total.decisions} decisions, ${total.outcomes} with an outcome · overall `
      + `${which} ${rateText(total[which])}`),
    series.length ? barChart(series, { id: "outcomes-chart",
      title: `${which} rate per group, with the number of outcomes it is of (n)` })
      : el("p", { class: "notice", text: "No decisions in this period." }),
    report.groups.length ? table([BY_HEADERS[report.by] || report.by, "Decisions", "Outcomes",
      "Accepted", "Satisfied", "Stayed", "Recovered", "Granted"], report.groups.map((g) => [
      groupLabel(report.by, g.key), String(g.decisions), String(g.outcomes),
      rateText(g.accepted), rateText(g.satisfied), rateText(g.stayed), rateText(g.recovered),
      g.granted.map(money).join(", ") || "—"]), { class: "outcomes" }) : null,
    el("h4", { text: "Did the outlook predict recovery?" }),
    el("ul", { class: "plain" }, calibration.outlooks.map((c) => el("li", {},
      el("strong", { text: c.outlook }), `: recovered ${rateText(c.recovered)}`))),
    el("p", { class: "muted", id: "calibration", text: calibrationText(
      calibration.likely_minus_unlikely) })));
}

/** The likely decisions' recovered rate against the unlikely ones', in percentage points. */
function calibrationText(difference) {
  if (difference === null || difference === undefined) {
    return "Not yet known: both likely and unlikely decisions need outcomes.";
  }
  const points = Math.round(Number(difference) * 1000) / 10;
  if (Number.isNaN(points)) return `Likely minus unlikely recovered rate: ${difference}.`;
  if (points === 0) return "Likely decisions recovered as often as unlikely ones.";
  return `Likely decisions recovered ${Math.abs(points)} percentage points `
    + `${points > 0 ? "more" : "less"} often than unlikely ones.`;
}

// ---- start ---------------------------------------------------------------------------

function wire() {
  $("#signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const credential = $("#credential").value.trim();
    const box = $("#signin-error");
    if (!credential) {
      showError(box, new ApiError("Paste your API key or token first.", 0, null));
      $("#credential").focus();
      return;
    }
    await busy($("#signin-button"), null, async () => {
      try {
        hideError(box);
        await signIn(credential);
      } catch (error) {
        if (error instanceof StaleAnswer) return;  // signed out or in again meanwhile
        state.credential = null;
        sessionStorage.removeItem(CREDENTIAL);
        showError(box, error);
        $("#credential").focus();
      }
    });
  });
  $("#sign-out").addEventListener("click", () => signOut());
  for (const tab of $$("[role=tab]")) {
    tab.addEventListener("click", () => selectTab(tab.id.slice(4)));
  }
  $("[role=tablist]").addEventListener("keydown", onTabKey);
  $("#rule-search").addEventListener("input", filterRules);
  $("#incident-form").addEventListener("submit", decide);
  $("#reset-example").addEventListener("click", () => {
    forgetAsked();  // a Decide on its way: its answer is not the example's
    fillForm(exampleIncident(state.policy));
    clear($("#decision"));
    state.shown = null;
  });
  $("#versions-more").addEventListener("click", () => loadVersions(false));
  $("#diff-form").addEventListener("submit", showDiff);
  for (const radio of $$("input[name=candidate-kind]")) {
    radio.addEventListener("change", onCandidateKind);
  }
  $("#candidate-version").addEventListener("change", (event) => {
    event.target.dataset.touched = "yes";
  });
  $("#replay-form").addEventListener("submit", (event) => runReplay(event));
  $("#outcomes-form").addEventListener("submit", loadOutcomes);
  $("#outcomes-rate").addEventListener("change", renderOutcomes);
  // Back and Forward: the tab holding the part of the page the address names, or the tab
  // that entry showed.
  window.addEventListener("hashchange", followHistory);
  window.addEventListener("popstate", followHistory);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") checkPolicy();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") checkPolicy();
  }, POLICY_CHECK_MS);
}

async function start() {
  wire();
  const zone = timeZoneName();
  if (zone) for (const span of $$(".time-zone")) span.textContent = zone;
  const saved = sessionStorage.getItem(CREDENTIAL);
  if (!saved) {
    showSignIn();
    return;
  }
  try {
    await signIn(saved);
  } catch (error) {
    if (error instanceof StaleAnswer) return;  // signed in with another key meanwhile
    if (error.status === 401) {
      signOut(error);  // the key is no good: forget it
      return;
    }
    showSignIn();  // Amends could not answer: keep the key, to try again
    $("#credential").value = saved;
    showError($("#signin-error"), error);
  }
}

start();
