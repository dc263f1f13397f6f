// The workspace's model of the account, built only from what the agent socket says.
//
// No DOM here: the Store takes notification bodies as they arrive on the agent UMS socket
// (the v2 ".ams" shapes node-agent-sdk receives, and the v3 shapes too) and keeps
// conversations, their events, receipts, typing state, system notes and rings. The views
// subscribe to its "change" event. Everything a conversation shows can be rebuilt from the
// socket's history (SubscribeMessagingEvents / QueryMessages), so a reconnect loses nothing.

export const CONSUMER = "CONSUMER";
const AGENT_ROLES = new Set(["ASSIGNED_AGENT", "AGENT", "MANAGER", "READER", "CONTROLLER"]);
const SPEAKING_ROLES = new Set(["ASSIGNED_AGENT", "AGENT", "MANAGER"]);
const MESSAGE_EVENTS = new Set(["ContentEvent", "RichContentEvent"]);
const TYPING_OFF = new Set(["ACTIVE", "PAUSE", "INACTIVE", "GONE", "BACKGROUND"]);

/** A single element where an array is expected is one item (the payload rule). */
export function list(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Participants as [{pid, legacy, role}] from either wire shape: the v3 list [{id, role}], or
 * the v2 role maps `participants` {ROLE: [legacy ids]} + `participantsPId` {ROLE: [PIDs]}.
 */
export function participantsOf(details) {
  const parts = details.participants;
  if (Array.isArray(parts)) {
    return parts
      .filter((p) => p && typeof p === "object")
      .map((p) => ({ pid: String(p.id), legacy: null, role: String(p.role), state: p.state }));
  }
  const out = [];
  if (parts && typeof parts === "object") {
    const pids = details.participantsPId || {};
    for (const [role, ids] of Object.entries(parts)) {
      const pidList = list(pids[role]);
      list(ids).forEach((id, i) => {
        out.push({ pid: String(pidList[i] ?? id), legacy: String(id), role });
      });
    }
  }
  return out;
}

/** The text a list or a ring shows for an event. */
export function summary(event) {
  if (!event || typeof event !== "object") return "";
  if (event.type === "ContentEvent") {
    const msg = event.message;
    if (typeof msg === "string") return msg;
    if (msg && typeof msg === "object") return `[file] ${msg.caption || msg.relativePath || ""}`.trim();
    return "";
  }
  if (event.type === "RichContentEvent") return "[structured content]";
  return event.type || "";
}

function shortId(id) {
  return id && id.length > 12 ? id.slice(0, 8) + "…" : id || "?";
}

export class Conversation {
  constructor(id) {
    this.id = id;
    this.consumerId = null;
    this.state = "OPEN";
    this.stage = "OPEN";
    this.skillId = null;
    this.participants = [];
    this.dialogs = [];
    this.startTs = null;
    this.endTs = null;
    this.closeReason = null;
    this.metaTs = 0;
    this.campaignInfo = null;
    this.context = null;
    this.listed = true; // in the ExConversations subscription (a DELETE takes it out)
    this.messages = new Map(); // sequence -> record (content, rich content, accept status)
    this.receipts = new Map(); // sequence -> {consumer: Set(status), agent: Set(status)}
    this.notes = []; // system notes: {ts, text}
    this.typing = false; // the consumer's COMPOSING lasts
    this.readByMe = new Set(); // consumer sequences this agent marked READ
    this.lastMessage = null; // {text, role, ts}
    this.lastActivity = 0;
    this.historyAsked = false;
    this.subscribed = false;
    this.rev = 0; // bumped on every change: views re-render a row when it moves
  }

  get closed() {
    return this.state === "CLOSE";
  }

  get mainDialogId() {
    const open = this.dialogs.find((d) => d.state === "OPEN" && d.dialogType === "MAIN");
    const any = open || this.dialogs.find((d) => d.state === "OPEN") || this.dialogs[0];
    return (any && any.dialogId) || this.id;
  }

  assigned() {
    return this.participants.find((p) => p.role === "ASSIGNED_AGENT") || null;
  }

  /** The participant entry of the agent `me` ({pid, legacy}), or null. */
  roleOf(me) {
    if (!me) return null;
    const p = this.participants.find(
      (x) => x.pid === me.pid || (x.legacy !== null && x.legacy === me.legacy) || x.pid === me.legacy,
    );
    return p ? p.role : null;
  }

  unread() {
    let n = 0;
    for (const rec of this.messages.values()) {
      if (rec.role === CONSUMER && MESSAGE_EVENTS.has(rec.event.type) && !this.readByMe.has(rec.sequence)) {
        const r = this.receipts.get(rec.sequence);
        if (!(r && r.agent.has("READ"))) n += 1;
      }
    }
    return n;
  }

  /** Consumer messages not READ by any agent yet (the ones this agent should mark read). */
  unreadSequences() {
    const out = [];
    for (const rec of this.messages.values()) {
      if (rec.role !== CONSUMER || !MESSAGE_EVENTS.has(rec.event.type)) continue;
      if (this.readByMe.has(rec.sequence)) continue;
      const r = this.receipts.get(rec.sequence);
      if (r && r.agent.has("READ")) continue;
      out.push(rec.sequence);
    }
    return out.sort((a, b) => a - b);
  }

  /** Transcript items in order: messages by sequence, system notes by time. */
  transcript() {
    const items = [];
    for (const rec of this.messages.values()) {
      if (rec.event.type === "AcceptStatusEvent") continue;
      items.push({ kind: "message", ts: rec.ts, order: rec.sequence, rec });
    }
    for (const note of this.notes) items.push({ kind: "note", ts: note.ts, order: -1, note });
    items.sort((a, b) => a.ts - b.ts || (a.kind === b.kind ? a.order - b.order : a.kind === "note" ? -1 : 1));
    return items;
  }
}

export class Store extends EventTarget {
  constructor() {
    super();
    this.me = null; // {pid, legacy, account, name}
    this.conversations = new Map();
    this.byDialog = new Map(); // dialog id -> conversation id
    this.rings = new Map(); // ring id -> ring
    this.profiles = new Map(); // consumer id -> profile body
    this.availability = null;
    this._pending = false;
  }

  reset(me) {
    this.me = me;
    this.conversations.clear();
    this.byDialog.clear();
    this.rings.clear();
    this.profiles.clear();
    this.changed("reset");
  }

  /** Tell the views something changed (they redraw once per animation frame). */
  changed(what = "update", id = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, id } }));
  }

  conversation(id) {
    let conv = this.conversations.get(id);
    if (!conv) {
      conv = new Conversation(id);
      this.conversations.set(id, conv);
      this.byDialog.set(id, id);
    }
    return conv;
  }

  // -- ExConversationChangeNotification -------------------------------------------------

  applyConversations(body) {
    const changes = list(body && body.changes);
    for (const change of changes) {
      if (!change || typeof change !== "object") continue;
      const result = change.result;
      if (!result || typeof result !== "object") continue;
      const details = result.conversationDetails || {};
      const id = result.convId || details.convId || result.conversationId;
      if (!id) continue;
      const known = this.conversations.has(id);
      const conv = this.conversation(String(id));
      this._update(conv, details, known, change.type === "DELETE");
      if (change.type === "DELETE") conv.listed = false;
      else conv.listed = true;
      conv.rev += 1;
    }
    if (changes.length) this.changed("conversations");
  }

  _update(conv, d, known, deleted) {
    const before = { parts: conv.participants, skill: conv.skillId, state: conv.state };
    const ts = typeof d.metaDataLastUpdateTs === "number" ? d.metaDataLastUpdateTs : Date.now();
    const parts = participantsOf(d);
    if (parts.length || d.participants) conv.participants = parts;
    const consumer = parts.find((p) => p.role === CONSUMER);
    if (consumer) conv.consumerId = consumer.pid;
    if (typeof d.state === "string") conv.state = d.state;
    if (typeof d.stage === "string") conv.stage = d.stage;
    if (d.skillId !== undefined) conv.skillId = d.skillId === null ? null : String(d.skillId);
    if (Array.isArray(d.dialogs)) {
      conv.dialogs = d.dialogs.filter((x) => x && typeof x === "object");
      for (const dialog of conv.dialogs) if (dialog.dialogId) this.byDialog.set(dialog.dialogId, conv.id);
    }
    conv.startTs = d.startTs ?? conv.startTs;
    conv.endTs = d.endTs ?? conv.endTs;
    conv.closeReason = d.closeReason ?? conv.closeReason;
    conv.metaTs = ts;
    conv.campaignInfo = d.campaignInfo ?? conv.campaignInfo;
    conv.context = d.context ?? conv.context;
    conv.lastActivity = Math.max(conv.lastActivity, ts, conv.startTs || 0);
    if (!known) {
      if (conv.startTs) conv.notes.push({ ts: conv.startTs, text: "Conversation started" });
      if (conv.closed) conv.notes.push({ ts: conv.endTs || ts, text: this._closedText(conv) });
      return;
    }
    const key = (p) => `${p.pid}|${p.role}`;
    const had = new Set(before.parts.map(key));
    const has = new Set(conv.participants.map(key));
    for (const p of conv.participants) {
      if (!had.has(key(p)) && p.role !== CONSUMER) {
        conv.notes.push({ ts, text: `${this.who(p)} joined as ${p.role}` });
      }
    }
    for (const p of before.parts) {
      if (!has.has(key(p)) && p.role !== CONSUMER) {
        conv.notes.push({ ts, text: `${this.who(p)} left (${p.role})` });
      }
    }
    if (before.skill !== null && conv.skillId !== before.skill) {
      conv.notes.push({ ts, text: `Transferred to skill ${conv.skillId}` });
    }
    if (before.state !== "CLOSE" && conv.closed) {
      conv.typing = false;
      conv.notes.push({ ts: conv.endTs || ts, text: this._closedText(conv) });
    }
    void deleted;
  }

  _closedText(conv) {
    return conv.closeReason ? `Conversation closed by ${conv.closeReason}` : "Conversation closed";
  }

  /** How a participant is named in notes: "You", "Consumer", or the agent's id. */
  who(p) {
    const me = this.me;
    if (me && (p.pid === me.pid || p.legacy === me.legacy)) return "You";
    if (p.role === CONSUMER) return "Consumer";
    return `Agent ${p.legacy || shortId(p.pid)}`;
  }

  // -- messaging events -----------------------------------------------------------------

  /**
   * One event record: a `.ams.ms.OnlineEventDistribution` body, an item of a
   * `.ams.ms.QueryMessages$Response`, or a change of a v3 MessagingEventNotification.
   * Returns the conversation it went to (or null).
   */
  applyEvent(record, fallbackDialog = null) {
    if (!record || typeof record !== "object" || !record.event || typeof record.event !== "object") {
      return null;
    }
    const dialogId = record.dialogId || record.conversationId || fallbackDialog;
    if (!dialogId) return null;
    const convId = record.conversationId || this.byDialog.get(dialogId) || dialogId;
    const conv = this.conversation(String(convId));
    const event = record.event;
    const role = this.roleOfRecord(conv, record);
    const ts = typeof record.serverTimestamp === "number" ? record.serverTimestamp : Date.now();
    const seq = typeof record.sequence === "number" ? record.sequence : null;
    if (event.type === "ChatStateEvent") {
      if (role === CONSUMER) {
        if (event.chatState === "COMPOSING") conv.typing = true;
        else if (TYPING_OFF.has(event.chatState)) conv.typing = false;
      }
    } else if (seq !== null) {
      if (conv.messages.has(seq)) return conv; // history and live overlap: one copy
      const mine = this.isMe(record);
      const rec = { sequence: seq, event, role, ts, mine, originator: record.originatorPId || record.originatorId, audience: record.messageAudience || "ALL" };
      conv.messages.set(seq, rec);
      if (event.type === "AcceptStatusEvent") {
        this._receipt(conv, role, event, mine);
      } else if (MESSAGE_EVENTS.has(event.type)) {
        if (role === CONSUMER) conv.typing = false;
        conv.lastMessage = { text: summary(event), role, ts, mine };
        conv.lastActivity = Math.max(conv.lastActivity, ts);
      }
    }
    conv.rev += 1;
    return conv;
  }

  applyEvents(records, fallbackDialog = null) {
    let last = null;
    for (const r of list(records)) last = this.applyEvent(r, fallbackDialog) || last;
    if (last) this.changed("events", last.id);
    return last;
  }

  _receipt(conv, role, event, mine) {
    const side = role === CONSUMER ? "consumer" : "agent";
    for (const s of list(event.sequenceList)) {
      const seq = Number(s);
      if (!Number.isInteger(seq)) continue;
      let r = conv.receipts.get(seq);
      if (!r) conv.receipts.set(seq, (r = { consumer: new Set(), agent: new Set() }));
      r[side].add(String(event.status));
      if (mine && event.status === "READ") conv.readByMe.add(seq);
    }
  }

  isMe(record) {
    const me = this.me;
    if (!me) return false;
    const meta = record.originatorMetadata || {};
    return (
      record.originatorPId === me.pid ||
      record.originatorId === me.legacy ||
      record.originatorId === me.pid ||
      meta.id === me.pid
    );
  }

  roleOfRecord(conv, record) {
    const meta = record.originatorMetadata;
    if (meta && typeof meta.role === "string") return meta.role;
    const ids = [record.originatorPId, record.originatorId].filter(Boolean);
    if (conv.consumerId && ids.includes(conv.consumerId)) return CONSUMER;
    const p = conv.participants.find((x) => ids.includes(x.pid) || ids.includes(x.legacy));
    if (p) return p.role;
    return this.isMe(record) ? "ASSIGNED_AGENT" : "AGENT";
  }

  // -- routing tasks --------------------------------------------------------------------

  /** `.ams.routing.RoutingTaskNotification`: rings waiting for this agent. Returns the new ones. */
  applyRouting(body) {
    const fresh = [];
    for (const change of list(body && body.changes)) {
      if (!change || typeof change !== "object") continue;
      const result = change.result || {};
      const convId = result.conversationId || result.convId;
      for (const ring of list(result.ringsDetails)) {
        if (!ring || typeof ring !== "object" || !ring.ringId) continue;
        const id = String(ring.ringId);
        if (change.type === "DELETE" || ring.ringState !== "WAITING" || result.taskCompleted === true) {
          this.rings.delete(id);
          continue;
        }
        const known = this.rings.has(id);
        const cid = String(convId || ring.convId || id.split("_")[0]);
        this.rings.set(id, {
          ringId: id,
          conversationId: cid,
          consumerId: result.consumerId || ring.consumerId || null,
          skillId: result.skillId ?? ring.skillId ?? null,
          expiresTs: ring.ringExpirationTs || null,
          state: ring.ringState,
        });
        if (!known) fresh.push(this.rings.get(id));
      }
      if (change.type === "DELETE" && convId) {
        for (const [id, ring] of this.rings) if (ring.conversationId === convId) this.rings.delete(id);
      }
    }
    this.changed("rings");
    return fresh;
  }

  // -- consumers ------------------------------------------------------------------------

  setProfile(consumerId, profile) {
    this.profiles.set(consumerId, profile && typeof profile === "object" ? profile : {});
    for (const conv of this.conversations.values()) if (conv.consumerId === consumerId) conv.rev += 1;
    this.changed("profile");
  }

  /** The consumer's name: first + last name of the profile, else the ext id, else the id. */
  consumerName(consumerId) {
    if (!consumerId) return "Unknown consumer";
    const p = this.profiles.get(consumerId);
    if (p) {
      const name = [p.firstName, p.lastName].filter((x) => typeof x === "string" && x.trim()).join(" ");
      if (name) return name;
      const ext = extIdOf(p);
      if (ext) return ext;
    }
    return consumerId;
  }

  /**
   * The list's order: mine, waiting, others' open, then closed; newest conversation first
   * within each. A stable order: rows do not jump while history and profiles arrive.
   */
  ordered() {
    const me = this.me;
    const group = (c) => {
      if (c.closed || !c.listed) return 3;
      if (c.roleOf(me)) return 0;
      if (!c.assigned()) return 1;
      return 2;
    };
    // a conversation that left the subscription while open (another agent took it, out of
    // this agent's reach) leaves the list; closed ones stay as "recently closed"
    return [...this.conversations.values()]
      .filter((c) => c.listed || c.closed)
      .map((c) => [group(c), c])
      .sort((a, b) => a[0] - b[0] || (b[1].startTs || 0) - (a[1].startTs || 0) || (a[1].id < b[1].id ? -1 : 1))
      .map((x) => x[1]);
  }

  status(conv) {
    if (conv.closed) return "Closed";
    if (!conv.listed) return "Gone";
    const role = conv.roleOf(this.me);
    if (role === "ASSIGNED_AGENT") return "Mine";
    if (role) return role === "MANAGER" ? "Managing" : role;
    return conv.assigned() ? "Other agent" : "Waiting";
  }

  canWrite(conv) {
    const role = conv.roleOf(this.me);
    return !conv.closed && SPEAKING_ROLES.has(role);
  }
}

/** The ext consumer id where a profile may carry it (mockle and LiveEngage spellings). */
export function extIdOf(p) {
  if (!p || typeof p !== "object") return null;
  for (const key of ["ext_consumer_id", "extConsumerId", "externalId", "externalConsumerId"]) {
    if (typeof p[key] === "string" && p[key]) return p[key];
  }
  return null;
}

export function isAgentRole(role) {
  return AGENT_ROLES.has(role);
}
