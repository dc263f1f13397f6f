// The agent's side of the page: login, availability, rings, the conversation list, the
// conversation pane and the composer. Everything here goes through the Login Service and the
// agent UMS socket (agent.js), exactly as an SDK bot would; the Store keeps what they said.

import { AgentSocket, LoginSession, REFRESH_MS, UmsError } from "./agent.js";
import { $, clear, clock, h } from "./dom.js";
import { confirmDialog } from "./inspector.js";
import { jsonTree } from "./json.js";
import { CONSUMER, Store, extIdOf, list, summary } from "./store.js";
import { VirtualList } from "./vlist.js";

const CONV_ROW = 56;
const RELOGIN_CODES = new Set([4401, 4407, 1011]); // node-agent-sdk README: log in again
const PAUSE_AFTER_MS = 5000; // typing stops counting as COMPOSING after this much quiet
const PREVIEW_PARALLEL = 6;
const RINGS_SHOWN = 5;

function show(el, text) {
  el.textContent = text || "";
  el.hidden = !text;
}

function messageOf(err) {
  return err && err.message ? err.message : String(err);
}

/** Quick replies from "Yes, No, Maybe" (the documented quickReplies shape). */
export function quickReplies(text) {
  const titles = text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (!titles.length) return null;
  return {
    type: "quickReplies",
    itemsPerRow: 8,
    replies: titles.map((t) => ({ type: "button", tooltip: t, title: t, click: { actions: [{ type: "publishText", text: t }] } })),
  };
}

/** The RichContentEvent for the JSON typed in the composer, or an Error saying what is wrong. */
export function richEvent(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return new Error(`Structured content is not valid JSON: ${err.message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    return new Error("Structured content must be a JSON object (an element such as {\"type\": \"vertical\", ...})");
  }
  if (doc.type === "RichContentEvent") {
    if (!doc.content || typeof doc.content !== "object") return new Error("A RichContentEvent needs a \"content\" object");
    return doc;
  }
  if (typeof doc.type !== "string") return new Error("Structured content needs a \"type\" (vertical, horizontal, text, button, ...)");
  return { type: "RichContentEvent", content: doc };
}

export class Workspace {
  constructor(hooks) {
    this.hooks = hooks; // onConversation(id), onLogin(account)
    this.store = new Store();
    this.session = null;
    this.socket = null;
    this.credentials = null;
    this.wanted = false;
    this.selected = null;
    this.backoff = 500;
    this.gen = 0; // one per login: reconnects of an older one give up
    this._retrying = false;
    this.composing = false;
    this._pause = 0;
    this._refresh = 0;
    this._frame = 0;
    this._paneDirty = true;
    this._previews = [];
    this._wanted = new Set(); // consumer and conversation ids on screen
    this._previewBusy = 0;
    this._loginStarted = 0;
    this._openStarted = 0;
    this._listReady = false;
    this.list = new VirtualList($("#conv-viewport"), $("#conversations"), {
      rowHeight: CONV_ROW,
      key: (c) => c.id,
      rev: (c) => `${c.rev}|${c.id === this.selected}`,
      render: (c) => this._convRow(c),
    });
    $("#conversations").addEventListener("window", (e) => this._inView(e.detail));
    this.store.addEventListener("change", (e) => this._changed(e.detail));
    $("#availability").addEventListener("change", () => this.setAvailability($("#availability").value));
    $("#logout").addEventListener("click", () => this.logout());
    $("#conv-filter").addEventListener("input", () => this._schedule());
    const message = $("#message");
    message.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendText();
      }
    });
    message.addEventListener("input", () => this._typing());
    $("#composer").addEventListener("submit", (e) => {
      e.preventDefault();
      this.sendText();
    });
    $("#send-rich").addEventListener("click", () => this.sendRich());
    $("#transfer").addEventListener("click", () => this.transfer());
    $("#join-manager").addEventListener("click", () => this.joinAsManager());
    $("#close-conv").addEventListener("click", () => this.closeConversation());
    document.addEventListener("visibilitychange", () => this._markRead());
    this._renderSession();
  }

  get me() {
    return this.store.me;
  }

  // -- login and the socket -------------------------------------------------------------

  async login(account, name, password) {
    this._loginStarted = performance.now();
    this._listReady = false;
    document.documentElement.removeAttribute("data-list-ready-ms");
    show($("#login-error"), "");
    this._status("Logging in…");
    if (this.wanted) await this.logout(true);
    this.gen += 1;
    this.wanted = true;
    this.credentials = { account, name, password };
    try {
      this.session = await LoginSession.login(account, name, password);
    } catch (err) {
      this.wanted = false;
      this._status("Not logged in", "down");
      show($("#login-error"), messageOf(err));
      this._renderSession();
      throw err;
    }
    const s = this.session;
    this.store.reset({ pid: s.pid, legacy: s.legacyId, account, name: s.loginName || name });
    this.selected = null;
    this._paneDirty = true;
    $("#availability").value = "ONLINE"; // a logged-in agent starts ONLINE
    this._renderSession();
    this.hooks.onLogin(account);
    clearInterval(this._refresh);
    this._refresh = setInterval(() => this._refreshSession(), REFRESH_MS);
    try {
      await this._connect();
    } catch (err) {
      show($("#login-error"), messageOf(err));
      this._retry(err.code ?? 1006);
    }
  }

  async logout(quiet = false) {
    this.gen += 1;
    this.wanted = false;
    clearInterval(this._refresh);
    const sock = this.socket;
    const session = this.session;
    this.socket = null;
    this.session = null;
    if (sock) sock.close(1000, "logged out");
    if (session) session.logout().catch(() => {});
    if (!quiet) {
      this.store.reset(null);
      this.selected = null;
      this._paneDirty = true;
      this._status("Not logged in");
      this._renderSession();
    }
  }

  async _connect() {
    const s = this.session;
    const sock = new AgentSocket(s.account, s.bearer);
    this.socket = sock;
    sock.addEventListener("notification", (e) => this._notification(e.detail));
    sock.addEventListener("close", (e) => this._closed(sock, e.detail));
    this._status("Connecting…");
    await sock.open();
    // a new socket has no subscriptions: the snapshot rebuilds the list, history the pane
    this.store.reset(this.store.me);
    this._listReady = false;
    await sock.request(".ams.routing.SetAgentState", {
      channels: ["MESSAGING"],
      agentUserId: s.legacyId,
      availability: $("#availability").value,
    });
    await sock.request(".ams.aam.SubscribeExConversations", { convState: ["OPEN"] });
    await sock.request(".ams.routing.SubscribeRoutingTasks", {
      channelType: "MESSAGING",
      agentId: s.legacyId,
      brandId: s.account,
    });
    this.backoff = 500;
    this._status(`Connected as ${s.loginName || this.credentials.name}`, "ok");
    if (this.selected) this._subscribe(this.store.conversation(this.selected));
  }

  _closed(sock, { code, reason }) {
    if (sock !== this.socket) return;
    this.socket = null;
    if (!this.wanted) return;
    this._retry(code, reason);
  }

  /** One reconnect at a time, for the current login only (a new login or a logout cancels). */
  _retry(code, reason = "") {
    if (this._retrying) return;
    this._retrying = true;
    const relogin = RELOGIN_CODES.has(code);
    const why = `${code}${reason ? `: ${reason}` : ""}`;
    this._status(`Disconnected (${why}); ${relogin ? "logging in again" : "reconnecting"}…`, "down");
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 10000);
    const gen = this.gen;
    setTimeout(() => {
      this._retrying = false;
      if (gen === this.gen) this._reconnect(relogin, why, gen);
    }, wait);
  }

  async _reconnect(relogin, why, gen) {
    if (!this.wanted || this.socket) return;
    try {
      if (relogin || !this.session) {
        const c = this.credentials;
        const session = await LoginSession.login(c.account, c.name, c.password);
        if (gen !== this.gen) return; // logged out, or logged in anew, meanwhile
        this.session = session;
      }
      await this._connect();
      this._status(`Connected as ${this.session.loginName || this.credentials.name} (again, after ${why})`, "ok");
    } catch (err) {
      if (!this.wanted) return;
      this.socket = null;
      const code = err instanceof UmsError && /closed at once \((\d+)/.exec(err.message);
      this._retry(code ? Number(code[1]) : 4401, messageOf(err));
    }
  }

  async _refreshSession() {
    if (!this.session) return;
    try {
      await this.session.refresh();
    } catch {
      // log in again: through the close of the socket if there is one (4401 means "log in")
      this.session = null; // so the reconnect logs in
      if (this.socket) this.socket.close(4000, "session refresh failed");
      else this._retry(4401, "session refresh failed");
    }
  }

  /** After the account was reset through the control API: log in afresh (unless the reset
   * already closed the socket, 4401, and a new login is under way). */
  afterReset(account) {
    if (this.wanted && this.socket && this.credentials && this.credentials.account === account) {
      const c = this.credentials;
      this.login(c.account, c.name, c.password).catch(() => {});
    }
  }

  async setAvailability(value) {
    if (!this.socket || !this.session) return;
    try {
      await this.socket.request(".ams.routing.SetAgentState", {
        channels: ["MESSAGING"],
        agentUserId: this.session.legacyId,
        availability: value,
      });
      show($("#login-error"), "");
    } catch (err) {
      show($("#login-error"), `Availability: ${messageOf(err)}`);
    }
  }

  _status(text, kind = "") {
    const p = $("#connection");
    p.textContent = text;
    p.className = `connection ${kind}`;
  }

  _renderSession() {
    const on = Boolean(this.session);
    $("#session").hidden = !on;
    $("#login-fields").hidden = on;
    if (on) {
      const me = this.me;
      $("#whoami").textContent = `${me.name} (${this.session.legacyId})`;
    }
  }

  // -- notifications --------------------------------------------------------------------

  _notification(frame) {
    const type = String(frame.type || "");
    const name = type.slice(type.lastIndexOf(".") + 1);
    const body = frame.body;
    switch (name) {
      case "ExConversationChangeNotification":
        this.store.applyConversations(body);
        if (!this._listReady) this._markListReady();
        this._markRead(); // e.g. the UPSERT that made this agent a participant
        break;
      case "RoutingTaskNotification":
        for (const ring of this.store.applyRouting(body)) {
          const conv = this.store.conversation(ring.conversationId);
          if (ring.consumerId && !conv.consumerId) conv.consumerId = ring.consumerId;
        }
        break; // the rings shown fetch their consumer and first message (_renderRings)
      case "OnlineEventDistribution":
        this._events(this.store.applyEvents([body]));
        break;
      case "MessagingEventNotification":
        this._events(this.store.applyEvents(list(body && body.changes)));
        break;
      case "AgentStateNotification": {
        const change = list(body && body.changes)[0];
        const value = change && change.result && change.result.availability;
        if (value) $("#availability").value = value;
        break;
      }
      default:
        break;
    }
  }

  _events(conv) {
    if (conv && conv.id === this.selected) {
      this._paneDirty = true;
      this._markRead();
    }
  }

  _markListReady() {
    this._listReady = true;
    requestAnimationFrame(() => {
      const ms = Math.round(performance.now() - this._loginStarted);
      document.documentElement.dataset.listReadyMs = String(ms);
    });
  }

  // -- per-conversation requests ---------------------------------------------------------

  /** SubscribeMessagingEvents (QueryMessages if that is refused): the history, then live. */
  async _subscribe(conv) {
    if (!this.socket || conv.subscribed) return;
    conv.subscribed = true;
    conv.historyAsked = true;
    const dialogId = conv.mainDialogId;
    try {
      await this.socket.request(".ams.ms.SubscribeMessagingEvents", { dialogId, conversationId: conv.id, fromSeq: 0 });
    } catch (err) {
      conv.subscribed = false;
      await this._query(conv).catch(() => {});
    }
  }

  /** QueryMessages: the dialog's history, once (how the SDK reads messages sent before). */
  async _query(conv) {
    conv.historyAsked = true;
    const dialogId = conv.mainDialogId;
    const resp = await this.socket.request(".ams.ms.QueryMessages", { dialogId, fromSeq: 0, newerThanSequence: 0 });
    this.store.applyEvents(list(resp.body), dialogId);
  }

  _ensureProfile(consumerId) {
    if (!consumerId || this.store.profiles.has(consumerId) || !this.socket) return;
    this.store.profiles.set(consumerId, null); // asked
    this._queue({
      wanted: () => this._wanted.has(consumerId),
      dropped: () => this.store.profiles.delete(consumerId),
      run: async () => {
        try {
          const resp = await this.socket.request(".ams.userprofile.GetUserProfile", consumerId);
          this.store.setProfile(consumerId, resp.body);
        } catch {
          this.store.setProfile(consumerId, {});
        }
      },
    });
  }

  /** Rows coming into view: their consumer's profile and their messages. */
  _inView({ start, end }) {
    if (!this.socket) return;
    const wanted = new Set();
    for (const ring of [...this.store.rings.values()].slice(0, RINGS_SHOWN)) wanted.add(ring.consumerId);
    const open = this._current();
    if (open) wanted.add(open.consumerId).add(open.id);
    const rows = this.list.items.slice(start, end);
    for (const conv of rows) wanted.add(conv.consumerId).add(conv.id);
    this._wanted = wanted;
    for (const conv of rows) {
      this._ensureProfile(conv.consumerId);
      if (!conv.historyAsked && !conv.subscribed) {
        // history and live events, so that the row's last message stays true (a waiting
        // conversation sends this agent nothing unless it subscribes)
        conv.historyAsked = true;
        this._queue({
          wanted: () => this._wanted.has(conv.id),
          dropped: () => (conv.historyAsked = false),
          run: () => this._subscribe(conv),
        });
      }
    }
  }

  /**
   * Background look-ups (profiles, last messages) for what is on screen: a few at a time,
   * newest first, and those scrolled away before their turn are dropped (asked again when
   * they come back), so scrolling through 1,000 conversations never queues 1,000 requests.
   */
  _queue(job) {
    this._previews.push(job);
    this._pump();
  }

  _pump() {
    while (this._previewBusy < PREVIEW_PARALLEL && this._previews.length) {
      const job = this._previews.pop();
      if (!job.wanted()) {
        job.dropped();
        continue;
      }
      this._previewBusy += 1;
      job.run().finally(() => {
        this._previewBusy -= 1;
        this._pump();
      });
    }
  }

  // -- rendering ------------------------------------------------------------------------

  _changed(detail) {
    if (detail.what === "reset" || detail.id === this.selected || detail.what === "conversations" || detail.what === "profile") {
      this._paneDirty = true;
    }
    this._schedule();
  }

  _schedule() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.render();
    });
  }

  render() {
    const store = this.store;
    const filter = $("#conv-filter").value.trim().toLowerCase();
    let convs = store.ordered();
    if (filter) {
      convs = convs.filter((c) => {
        const hay = `${store.consumerName(c.consumerId)} ${c.id} ${c.consumerId || ""} ${c.lastMessage ? c.lastMessage.text : ""}`;
        return hay.toLowerCase().includes(filter);
      });
    }
    const open = convs.filter((c) => !c.closed && c.listed).length;
    $("#conv-count").textContent = store.conversations.size ? `${open} open · ${convs.length} shown` : "";
    this.list.setItems(convs);
    this._renderRings();
    if (this._paneDirty) {
      this._paneDirty = false;
      this._renderPane();
    }
  }

  _convRow(c) {
    const store = this.store;
    const status = store.status(c);
    const unread = c.closed ? 0 : c.unread();
    const name = store.consumerName(c.consumerId);
    const m = c.lastMessage;
    const who = !m || m.role === CONSUMER ? "" : m.mine ? "You: " : "Agent: ";
    const last = m ? `${who}${m.text}` : "";
    return h(
      "li",
      { "aria-current": c.id === this.selected ? "true" : null, dataset: { id: c.id } },
      h(
        "button",
        { type: "button", onclick: () => this.select(c.id) },
        h("span", { class: "name" }, name),
        h(
          "span",
          { class: "badges" },
          h("span", { class: `badge ${status.replace(/\s/g, "")}` }, status),
          unread ? h("span", { class: "badge unread" }, `${unread} unread`) : null,
        ),
        h("span", { class: "last" }, last || "—"),
      ),
    );
  }

  _renderRings() {
    const all = [...this.store.rings.values()];
    $("#rings-panel").hidden = all.length === 0;
    $("#rings-count").textContent = all.length > RINGS_SHOWN ? `${all.length} waiting for you · the oldest ${RINGS_SHOWN} shown` : "";
    const rings = all.slice(0, RINGS_SHOWN); // an agent without a capacity may get many at once
    const ul = clear($("#rings"));
    for (const ring of rings) {
      const conv = this.store.conversation(ring.conversationId);
      this._wanted.add(ring.consumerId || conv.consumerId);
      this._ensureProfile(ring.consumerId || conv.consumerId);
      if (!conv.subscribed) this._subscribe(conv); // the first message, live
      const first = conv ? [...conv.messages.values()].find((m) => m.role === CONSUMER && m.event.type !== "AcceptStatusEvent") : null;
      const who = this.store.consumerName(ring.consumerId || (conv && conv.consumerId));
      const error = h("p", { class: "error", role: "alert", hidden: true });
      const act = (state) => async () => {
        try {
          await this.socket.request(".ams.routing.UpdateRingState", { ringId: ring.ringId, ringState: state });
          this.store.rings.delete(ring.ringId);
          this.store.changed("rings");
          if (state === "ACCEPTED") this.select(ring.conversationId);
        } catch (err) {
          show(error, messageOf(err));
        }
      };
      ul.append(
        h(
          "li",
          { class: "ring", dataset: { ring: ring.ringId } },
          h("div", { class: "who" }, who),
          h("div", { class: "first" }, first ? summary(first.event) : "…"),
          h("div", { class: "hint" }, `skill ${ring.skillId ?? "-1"} · conversation ${ring.conversationId.slice(0, 8)}…`),
          h("div", { class: "buttons" }, h("button", { type: "button", class: "primary", onclick: act("ACCEPTED") }, "Accept"), h("button", { type: "button", onclick: act("REJECTED") }, "Reject")),
          error,
        ),
      );
    }
  }

  select(id) {
    const before = this.selected ? this.store.conversations.get(this.selected) : null;
    if (before) before.rev += 1;
    this.selected = id;
    const conv = this.store.conversation(id);
    conv.rev += 1;
    this._paneDirty = true;
    this._openStarted = performance.now();
    document.documentElement.removeAttribute("data-open-ms");
    show($("#action-error"), "");
    show($("#composer-error"), "");
    this._subscribe(conv);
    this._wanted.add(conv.consumerId);
    this._ensureProfile(conv.consumerId);
    this._schedule();
    this._markRead();
    this.hooks.onConversation(id);
  }

  _renderPane() {
    const conv = this.selected ? this.store.conversations.get(this.selected) : null;
    $("#conv-empty").hidden = Boolean(conv);
    $("#conv-main").hidden = !conv;
    if (!conv) return;
    const store = this.store;
    $("#conv-title").textContent = store.consumerName(conv.consumerId);
    const campaign = conv.campaignInfo
      ? ` · campaign ${conv.campaignInfo.campaignId ?? "?"} / engagement ${conv.campaignInfo.engagementId ?? "?"}`
      : "";
    const started = conv.startTs ? ` · started ${clock(conv.startTs)}` : "";
    $("#conv-meta").textContent = `${store.status(conv)} · skill ${conv.skillId ?? "-1"}${campaign}${started} · ${conv.id}`;
    this._renderProfile(conv);
    this._renderTranscript(conv);
    if (this._openStarted && conv.messages.size) {
      // how long a click on a conversation took to show its transcript (for the scale test)
      document.documentElement.dataset.openMs = String(Math.round(performance.now() - this._openStarted));
      this._openStarted = 0;
    }
    $("#typing").textContent = conv.typing ? "Consumer is typing…" : "";
    const canWrite = store.canWrite(conv);
    const role = conv.roleOf(this.me);
    $("#message").disabled = !canWrite;
    $("#message").placeholder = canWrite
      ? "Type a message: Enter sends, Shift+Enter starts a new line"
      : conv.closed
        ? "The conversation is closed"
        : "Accept the ring or join the conversation to write";
    $("#send").disabled = !canWrite;
    $("#send-rich").disabled = !canWrite;
    const live = Boolean(this.socket) && !conv.closed;
    $("#transfer").disabled = !live;
    $("#join-manager").disabled = !live || role === "MANAGER";
    $("#close-conv").disabled = !live;
  }

  _renderProfile(conv) {
    const body = clear($("#profile-body"));
    const p = this.store.profiles.get(conv.consumerId) || {};
    const rows = [
      ["Name", [p.firstName, p.lastName].filter(Boolean).join(" ") || "—"],
      ["Consumer id", conv.consumerId || "—"],
      ["Ext consumer id", extIdOf(p) || "—"],
      ["Skill", conv.skillId ?? "-1"],
    ];
    if (conv.campaignInfo) rows.push(["Campaign", `${conv.campaignInfo.campaignId ?? "?"} / engagement ${conv.campaignInfo.engagementId ?? "?"}`]);
    const priv = p.privateData || {};
    if (priv.mobileNum) rows.push(["Phone", priv.mobileNum]);
    if (priv.mail || priv.email) rows.push(["Email", priv.mail || priv.email]);
    const participants = conv.participants.map((x) => `${x.role}: ${this.store.who(x)}`).join(", ");
    rows.push(["Participants", participants || "—"]);
    body.append(h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])));
    const sdes = (p.authenticatedData && p.authenticatedData.lp_sdes) || (p.claims && p.claims.lp_sdes) || null;
    if (sdes) body.append(h("div", {}, h("strong", {}, "SDEs"), jsonTree(sdes, 1)));
    if (Object.keys(p).length) body.append(h("div", {}, h("strong", {}, "Profile (GetUserProfile)"), jsonTree(p, 0)));
  }

  _renderTranscript(conv) {
    const box = $("#transcript");
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    const keyed = new Map();
    for (const el of box.children) keyed.set(el.dataset.key, el);
    const seen = new Set();
    let prev = null;
    for (const item of conv.transcript()) {
      const key = item.kind === "message" ? `m${item.rec.sequence}` : `n${item.note.ts}:${item.note.text}`;
      const sig = item.kind === "message" ? this._receiptText(conv, item.rec) : "";
      let el = keyed.get(key);
      if (!el || el.dataset.sig !== sig) {
        const fresh = item.kind === "message" ? this._message(conv, item.rec, sig) : h("p", { class: "note" }, `${item.note.text} · ${clock(item.note.ts)}`);
        fresh.dataset.key = key;
        fresh.dataset.sig = sig;
        if (el) el.replaceWith(fresh);
        el = fresh;
      }
      seen.add(key);
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== el) box.insertBefore(el, want);
      prev = el;
    }
    for (const [key, el] of keyed) if (!seen.has(key)) el.remove();
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  _receiptText(conv, rec) {
    const r = conv.receipts.get(rec.sequence);
    if (!r) return "";
    if (rec.role === CONSUMER) return r.agent.has("READ") ? "Read by agent" : r.agent.has("ACCEPT") ? "Accepted by agent" : "";
    if (r.consumer.has("READ")) return "Read";
    if (r.consumer.has("ACCEPT")) return "Delivered";
    return "";
  }

  _message(conv, rec, receipt) {
    const consumer = rec.role === CONSUMER;
    const e = rec.event;
    let content;
    if (e.type === "ContentEvent" && typeof e.message === "string") {
      content = h("div", { class: "text" }, e.message);
    } else if (e.type === "ContentEvent") {
      const m = e.message || {};
      content = h("div", { class: "text" }, `📎 ${m.caption || "file"} (${m.fileType || e.contentType || "?"}: ${m.relativePath || "?"})`);
    } else {
      content = h("div", {}, h("div", { class: "text" }, "Structured content"), jsonTree(e.content || e.message || e, 1));
    }
    const replies = e.quickReplies && Array.isArray(e.quickReplies.replies) ? e.quickReplies.replies : [];
    const author = consumer ? "Consumer" : rec.mine ? "You" : `Agent (${rec.role})`;
    return h(
      "article",
      { class: `msg ${consumer ? "consumer" : "agent"}${rec.audience !== "ALL" ? " private" : ""}`, "aria-label": `${author}, #${rec.sequence}` },
      content,
      replies.length ? h("div", { class: "replies", title: "quick replies" }, replies.map((r) => h("span", {}, r.title || r.tooltip || "?"))) : null,
      h(
        "div",
        { class: "info" },
        h("span", {}, author),
        h("span", { title: "sequence" }, `#${rec.sequence}`),
        h("span", {}, clock(rec.ts)),
        rec.audience !== "ALL" ? h("span", {}, "private") : null,
        receipt ? h("span", { class: "receipt", "aria-label": receipt === "Read" ? "Read by the consumer" : receipt }, `✓ ${receipt}`) : null,
      ),
    );
  }

  // -- acting on the open conversation ----------------------------------------------------

  _current() {
    return this.selected ? this.store.conversations.get(this.selected) : null;
  }

  async _publish(conv, event) {
    return this.socket.request(".ams.ms.PublishEvent", { dialogId: conv.mainDialogId, event });
  }

  _markRead() {
    const conv = this._current();
    if (!conv || !this.socket || document.visibilityState === "hidden") return;
    const role = conv.roleOf(this.me);
    if (!role || role === "READER" || conv.closed) return;
    const seqs = conv.unreadSequences();
    if (!seqs.length) return;
    for (const s of seqs) conv.readByMe.add(s);
    conv.rev += 1;
    this._publish(conv, { type: "AcceptStatusEvent", status: "READ", sequenceList: seqs }).catch(() => {
      for (const s of seqs) conv.readByMe.delete(s);
    });
  }

  _typing() {
    const conv = this._current();
    if (!conv || !this.socket || !this.store.canWrite(conv)) return;
    const text = $("#message").value;
    clearTimeout(this._pause);
    if (text.trim() && !this.composing) {
      this.composing = true;
      this._publish(conv, { type: "ChatStateEvent", chatState: "COMPOSING" }).catch(() => {});
    } else if (!text.trim() && this.composing) {
      this.composing = false;
      this._publish(conv, { type: "ChatStateEvent", chatState: "ACTIVE" }).catch(() => {});
    }
    if (this.composing) {
      this._pause = setTimeout(() => {
        if (!this.composing) return;
        this.composing = false;
        this._publish(conv, { type: "ChatStateEvent", chatState: "PAUSE" }).catch(() => {});
      }, PAUSE_AFTER_MS);
    }
  }

  async sendText() {
    const conv = this._current();
    const box = $("#message");
    const text = box.value;
    if (!conv || !text.trim() || !this.socket) return;
    const event = { type: "ContentEvent", contentType: "text/plain", message: text };
    const replies = quickReplies($("#quick-replies").value);
    if (replies) event.quickReplies = replies;
    try {
      await this._publish(conv, event);
    } catch (err) {
      show($("#composer-error"), messageOf(err));
      return;
    }
    show($("#composer-error"), "");
    box.value = "";
    $("#quick-replies").value = "";
    clearTimeout(this._pause);
    if (this.composing) {
      this.composing = false;
      this._publish(conv, { type: "ChatStateEvent", chatState: "ACTIVE" }).catch(() => {});
    }
  }

  async sendRich() {
    const conv = this._current();
    if (!conv || !this.socket) return;
    const event = richEvent($("#rich").value);
    if (event instanceof Error) {
      show($("#composer-error"), event.message);
      return;
    }
    const replies = quickReplies($("#quick-replies").value);
    if (replies) event.quickReplies = replies;
    try {
      await this._publish(conv, event);
      show($("#composer-error"), "");
    } catch (err) {
      show($("#composer-error"), messageOf(err));
    }
  }

  async _update(conv, fields) {
    try {
      await this.socket.request(".ams.cm.UpdateConversationField", { conversationId: conv.id, conversationField: fields });
      show($("#action-error"), "");
      return true;
    } catch (err) {
      show($("#action-error"), messageOf(err));
      return false;
    }
  }

  async transfer() {
    const conv = this._current();
    if (!conv || !this.socket) return;
    const skill = $("#skill").value.trim();
    if (!skill) {
      show($("#action-error"), "Enter the skill to transfer to (its id), then press Transfer.");
      $("#skill").focus();
      return;
    }
    const fields = [];
    const assigned = conv.assigned();
    if (assigned) fields.push({ field: "ParticipantsChange", type: "REMOVE", userId: assigned.legacy || assigned.pid, role: "ASSIGNED_AGENT" });
    fields.push({ field: "Skill", type: "UPDATE", skill });
    await this._update(conv, fields);
  }

  async joinAsManager() {
    const conv = this._current();
    if (!conv || !this.socket || !this.session) return;
    await this._update(conv, [{ field: "ParticipantsChange", type: "ADD", userId: this.session.legacyId, role: "MANAGER" }]);
  }

  async closeConversation() {
    const conv = this._current();
    if (!conv || !this.socket) return;
    const name = this.store.consumerName(conv.consumerId);
    const yes = await confirmDialog("Close this conversation?", `The conversation with ${name} ends for everyone.`, "Yes, close it");
    if (!yes) return;
    await this._update(conv, [{ field: "ConversationStateField", conversationState: "CLOSE" }]);
  }
}
