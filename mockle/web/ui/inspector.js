// The inspector pane: what no agent could see, from mockle's control API.
//
// * the request journal, live: GET /_mockle/requests?account=A loads it, then a long-poll
//   (after=<last id>&wait=20) answers as soon as a new entry exists. Entries are filtered in
//   the page (by the open conversation, by text) and drawn windowed, so 10,000 stay smooth;
// * faults: one click arms one (POST /_mockle/faults), the list shows when it fired;
// * reset: POST /_mockle/reset?account=A;
// * --admin-token: the page asks for the token once and POSTs it to /_mockle/ui/session, which
//   sets an HttpOnly SameSite=Strict cookie that the control API accepts. The token is never
//   stored by the page nor put in a URL.

import { $, clear, clock, h } from "./dom.js";
import { jsonTree } from "./json.js";
import { VirtualList } from "./vlist.js";

const MAX_ENTRIES = 10000;
const ROW = 24;
const DETAIL = 258;
const POLL_WAIT_S = 20;

export class AuthNeeded extends Error {}

/** One control API call; JSON in and out. 401 raises AuthNeeded (the token is asked for). */
export async function control(method, path, body = undefined, signal = undefined) {
  const resp = await fetch(path, {
    method,
    headers: body === undefined ? { Accept: "application/json" } : { "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    signal,
  });
  if (resp.status === 401) throw new AuthNeeded("the control API needs the admin token");
  const text = await resp.text();
  const doc = text ? JSON.parse(text) : null;
  if (!resp.ok) {
    const b = doc && doc.body;
    const detail = b && (b.details || b.title);
    throw new Error(`${method} ${path.split("?")[0]}: HTTP ${resp.status}${detail ? ` ${detail}` : ""}`);
  }
  return doc;
}

/**
 * The line a journal entry shows, in parts: what (target and method, or the frame's
 * direction and kind), where (path, or the frame's type) and how it ended (status, code).
 * Read together: "send POST /api/account/.../send 200".
 */
export function entryParts(e) {
  if (e.target === "ws") {
    const b = e.body;
    if (b && typeof b === "object") {
      if (b.kind === "resp") return [`ws ${e.direction} resp`, b.type ?? "", String(b.code ?? "")];
      return [`ws ${e.direction} ${b.kind ?? "frame"}`, b.type ?? "", ""];
    }
    return [`ws ${e.direction}`, typeof b === "string" ? b.slice(0, 60) : "", ""];
  }
  const path = typeof e.path === "string" ? e.path.split("?")[0] : "";
  const status = String(e.status ?? (e.error ? "—" : "…"));
  const tail = e.target === "webhook" && e.type ? ` ${e.type}` : "";
  return [`${e.target} ${e.method ?? ""}`, path, `${status}${tail}${e.error ? ` (${e.error})` : ""}`];
}

export function entryLine(e) {
  return entryParts(e).filter(Boolean).join(" ");
}

function collect(doc, found, depth) {
  if (depth > 6 || !doc || typeof doc !== "object") return;
  if (Array.isArray(doc)) {
    for (const item of doc) collect(item, found, depth + 1);
    return;
  }
  for (const key of ["conversationId", "dialogId", "convId"]) {
    if (typeof doc[key] === "string" && doc[key]) found.add(doc[key]);
  }
  for (const value of Object.values(doc)) if (value && typeof value === "object") collect(value, found, depth + 1);
}

/** Conversation ids an entry names anywhere (request, response, notification, path). */
export function conversationsOf(e) {
  if (!e._convs) {
    const found = new Set();
    collect(e.body, found, 0);
    collect(e.response, found, 0);
    e._convs = found;
  }
  return e._convs;
}

export class Inspector {
  /**
   * @param {object} hooks  conversationId(): the open conversation (for the filter);
   *                        onReset(account): called after a reset.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.account = null;
    this.entries = [];
    this.lastId = 0;
    this.expanded = new Set();
    this.gen = 0;
    this.abort = null;
    this.faults = [];
    this._faultTimer = 0;
    this._redraw = 0;
    this.list = new VirtualList($("#journal-viewport"), $("#journal"), {
      rowHeight: ROW,
      heightOf: (e) => (this.expanded.has(e.id) ? ROW + DETAIL : ROW),
      key: (e) => e.id,
      rev: (e) => (this.expanded.has(e.id) ? 1 : 0),
      render: (e) => this._row(e),
      stickToEnd: true,
    });
    $("#journal-filter").addEventListener("input", () => this.draw());
    $("#journal-conv").addEventListener("change", () => this.draw());
    $("#admin").addEventListener("submit", (ev) => this._unlock(ev));
    for (const button of document.querySelectorAll("[data-fault]")) {
      button.addEventListener("click", () => this.arm(button.dataset.fault));
    }
    $("#reset").addEventListener("click", () => this._reset());
  }

  /** Show the account's journal and faults (or the admin-token form if the API needs it). */
  async open(account) {
    this.account = account || null;
    this.gen += 1;
    if (this.abort) this.abort.abort();
    this.entries = [];
    this.lastId = 0;
    this.expanded.clear();
    this.draw();
    this._renderFaults([]);
    if (!this.account) return;
    const gen = this.gen;
    try {
      await this._load(gen);
    } catch (err) {
      this._failed(err);
    }
  }

  async _load(gen) {
    const session = await control("GET", "/_mockle/ui/session");
    if (session.adminToken && !session.authenticated) throw new AuthNeeded();
    $("#admin").hidden = true;
    $("#inspector-body").hidden = false;
    const q = new URLSearchParams({ account: this.account });
    const doc = await control("GET", `/_mockle/requests?${q}`);
    if (gen !== this.gen) return;
    this._add(doc.requests);
    this.refreshFaults();
    this._poll(gen);
  }

  _failed(err) {
    if (err instanceof AuthNeeded) {
      $("#admin").hidden = false;
      $("#inspector-body").hidden = true;
      $("#admin-token").focus();
      return;
    }
    this.error(err);
  }

  error(err) {
    const p = $("#inspector-error");
    p.textContent = err ? String(err.message || err) : "";
    p.hidden = !err;
  }

  async _unlock(ev) {
    ev.preventDefault();
    const input = $("#admin-token");
    const problem = $("#admin-error");
    const resp = await fetch("/_mockle/ui/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: input.value }),
      credentials: "same-origin",
    });
    if (!resp.ok) {
      problem.textContent = resp.status === 401 ? "That is not the admin token." : `HTTP ${resp.status}`;
      problem.hidden = false;
      return;
    }
    input.value = "";
    problem.hidden = true;
    this.open(this.account);
  }

  async _poll(gen) {
    let backoff = 500;
    while (gen === this.gen) {
      this.abort = new AbortController();
      const q = new URLSearchParams({ account: this.account, after: String(this.lastId), wait: String(POLL_WAIT_S) });
      try {
        const doc = await control("GET", `/_mockle/requests?${q}`, undefined, this.abort.signal);
        if (gen !== this.gen) return;
        this._add(doc.requests);
        backoff = 500;
        this.error(null);
      } catch (err) {
        if (gen !== this.gen) return;
        if (err instanceof AuthNeeded) return this._failed(err);
        this.error(new Error(`journal: ${err.message || err} (retrying)`));
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  }

  _add(entries) {
    if (!entries || !entries.length) return;
    for (const e of entries) {
      if (e.id <= this.lastId) continue;
      this.entries.push(e);
      this.lastId = e.id;
    }
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    this.draw();
    if (this.faults.some((f) => f.active)) this.refreshFaults();
  }

  /** Redraw once per frame however many batches arrive. */
  draw() {
    if (this._redraw) return;
    this._redraw = requestAnimationFrame(() => {
      this._redraw = 0;
      this._drawNow();
    });
  }

  visibleEntries() {
    const text = $("#journal-filter").value.trim().toLowerCase();
    const conv = $("#journal-conv").checked ? this.hooks.conversationId() : null;
    if (!text && !conv) return this.entries;
    return this.entries.filter((e) => {
      if (conv && !conversationsOf(e).has(conv)) return false;
      if (text) {
        if (e._line === undefined) e._line = entryLine(e).toLowerCase();
        if (!e._line.includes(text)) return false;
      }
      return true;
    });
  }

  _drawNow() {
    const shown = this.visibleEntries();
    const total = this.entries.length;
    $("#journal-count").textContent = shown.length === total ? `${total}` : `${shown.length} of ${total}`;
    this.list.setItems(shown);
  }

  _row(e) {
    const open = this.expanded.has(e.id);
    const [what, where, how] = entryParts(e);
    const line = entryLine(e);
    const bad = (typeof e.status === "number" && e.status >= 400) || e.error;
    const toggle = h(
      "button",
      {
        type: "button",
        "aria-expanded": open ? "true" : "false",
        title: line,
        onclick: () => {
          if (this.expanded.has(e.id)) this.expanded.delete(e.id);
          else this.expanded.add(e.id);
          this.list.refresh();
        },
      },
      h("span", { class: "what" }, where ? `${what} ` : what),
      where ? h("span", { class: "where" }, h("bdi", {}, where)) : null,
      how ? h("span", { class: bad ? "how bad" : "how" }, ` ${how}`) : null,
    );
    const li = h("li", { dataset: { id: String(e.id) } }, h("div", { class: "line" }, toggle, h("span", { class: "time" }, ` ${clock(e.time)}`)));
    if (open) {
      const clean = Object.fromEntries(Object.entries(e).filter(([k]) => !k.startsWith("_")));
      const tree = jsonTree(clean, 2, null, new Set(["headers"]));
      li.append(h("div", { class: "detail", role: "group", "aria-label": `Entry ${e.id}` }, tree));
    }
    return li;
  }

  // -- faults ---------------------------------------------------------------------------

  faultBody(kind) {
    const match = { account: this.account };
    switch (kind) {
      case "send429":
        return { target: "send", match, status: 429, times: 1 };
      case "send401":
        return { target: "send", match, status: 401, times: 1 };
      case "ws4401":
        return { target: "ws_request", match, close_code: 4401, reason: "closed by a fault armed in the Agent Workspace", times: 1 };
      case "delay":
        return { target: "send", match, delay_ms: 2000, times: 1 };
      default:
        throw new Error(`unknown fault ${kind}`);
    }
  }

  async arm(kind) {
    if (!this.account) return;
    try {
      await control("POST", "/_mockle/faults", this.faultBody(kind));
      await this.refreshFaults();
    } catch (err) {
      this._failed(err);
    }
  }

  async refreshFaults() {
    if (!this.account) return;
    clearTimeout(this._faultTimer);
    try {
      const doc = await control("GET", `/_mockle/faults?${new URLSearchParams({ account: this.account })}`);
      this._renderFaults(doc.faults || []);
    } catch (err) {
      this._failed(err);
    }
  }

  _renderFaults(faults) {
    this.faults = faults;
    const ul = clear($("#faults"));
    for (const f of faults) {
      const what = f.status ?? (f.close_code ? `close ${f.close_code}` : f.delay_ms ? `delay ${f.delay_ms} ms` : f.drop ? "drop" : "?");
      const times = f.times ? `${f.fired} of ${f.times}` : `${f.fired}`;
      const state = f.active ? "armed" : "fired";
      ul.append(
        h(
          "li",
          {},
          h("span", { class: f.fired ? "fired" : "" }, `${f.target} ${what} · fired ${times} · ${state}`),
          h("button", { type: "button", "aria-label": `Remove ${f.id}`, onclick: () => this._remove(f.id) }, "Remove"),
        ),
      );
    }
  }

  async _remove(id) {
    try {
      await control("DELETE", `/_mockle/faults/${encodeURIComponent(id)}`);
    } catch (err) {
      this._failed(err);
    }
    this.refreshFaults();
  }

  async _reset() {
    if (!this.account) return;
    const yes = await confirmDialog(
      `Reset account ${this.account}?`,
      "Conversations, consumers, agents' sessions, apps, faults, the journal and webhook deliveries of this account are wiped.",
      "Yes, reset",
    );
    if (!yes) return;
    try {
      await control("POST", `/_mockle/reset?${new URLSearchParams({ account: this.account })}`);
    } catch (err) {
      return this._failed(err);
    }
    this.entries = [];
    this.expanded.clear();
    this.draw();
    this._renderFaults([]);
    this.hooks.onReset(this.account);
  }
}

/** The page's confirmation dialog; resolves true when confirmed. */
export function confirmDialog(title, text, yes) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}
