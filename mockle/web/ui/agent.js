// The agent client: the Login Service and the agent UMS socket, as node-agent-sdk speaks them.
//
//   POST /api/account/{acc}/login?v=1.3   {"username","password"} -> {bearer, csrf, config}
//   POST /api/account/{acc}/refresh?v=1.3 {"csrf"} every 10 minutes (the SDK's interval)
//   POST /api/account/{acc}/logout?v=1.3  {"csrf"}
//   ws[s]://{host}/ws_api/account/{acc}/messaging/brand/{bearer}?v=2.1
//
// Frames are {"kind":"req","id":<uuid>,"type":T,"body":B}; a "resp" is matched on reqId, and
// code > 399 is an error (as the SDK decides). Everything is relative to the page's own origin
// (location.protocol picks ws: or wss:), so the page works the same behind --tls.

export const REFRESH_MS = 10 * 60 * 1000; // node-agent-sdk's refreshSessionInterval
export const KEEPALIVE_MS = 30 * 1000; // the SDK examples' GetClock interval
export const REQUEST_TIMEOUT_MS = 10 * 1000; // the SDK's requestTimeout

/** A request id like the SDK's (uuid v4); crypto.randomUUID needs a secure context. */
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function" && globalThis.isSecureContext) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export class LoginError extends Error {
  constructor(message, status = null, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** An error `resp` of the socket (or a timeout / a closed socket, with `frame` null). */
export class UmsError extends Error {
  constructor(message, frame = null) {
    super(message);
    this.frame = frame;
    this.code = frame ? frame.code : null;
  }
}

function accountPath(account, what) {
  return `/api/account/${encodeURIComponent(account)}/${what}?v=1.3`;
}

async function postJson(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await resp.text();
  let doc = null;
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = text;
    }
  }
  return { status: resp.status, ok: resp.ok, body: doc };
}

function loginFailure(what, r) {
  const err = r.body && typeof r.body === "object" ? r.body.error : null;
  const detail = err && typeof err === "object" ? err.message : typeof r.body === "string" ? r.body : null;
  return new LoginError(`${what} failed (HTTP ${r.status})${detail ? `: ${detail}` : ""}`, r.status, r.body);
}

/** A Login Service session: what the login answered, and the account it is for. */
export class LoginSession {
  constructor(account, body) {
    this.account = account;
    this.bearer = body.bearer;
    this.csrf = body.csrf || null;
    this.config = body.config;
    this.userId = String(body.config.userId);
    this.pid = body.config.userPid ? String(body.config.userPid) : null;
    this.loginName = body.config.loginName || null;
  }

  /** The agent's "old" id, `{account}.{userId}`, that the SDK puts in requests. */
  get legacyId() {
    return `${this.account}.${this.userId}`;
  }

  static async login(account, username, password) {
    const r = await postJson(accountPath(account, "login"), { username, password: password ?? "" });
    if (!r.ok || !r.body || typeof r.body !== "object" || r.body.error) throw loginFailure("Login", r);
    if (!r.body.config || r.body.config.userId === undefined || r.body.config.userId === null) {
      throw new LoginError("invalid login state, userId is undefined", r.status, r.body);
    }
    if (!r.body.bearer) throw new LoginError("could not generate token (no bearer)", r.status, r.body);
    return new LoginSession(account, r.body);
  }

  async refresh() {
    if (!this.csrf) return;
    const r = await postJson(accountPath(this.account, "refresh"), { csrf: this.csrf });
    if (!r.ok || (r.body && typeof r.body === "object" && r.body.error)) throw loginFailure("Refresh", r);
  }

  async logout() {
    if (!this.csrf) return;
    const r = await postJson(accountPath(this.account, "logout"), { csrf: this.csrf });
    if (!r.ok) throw loginFailure("Logout", r);
  }
}

export function socketUrl(account, bearer, version = "2.1") {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws_api/account/${encodeURIComponent(account)}/messaging/brand/${bearer}?v=${version}`;
}

/**
 * The agent UMS socket. Events: "notification" (detail: the frame), "close" (detail:
 * {code, reason}). request() answers the resp frame, or rejects with a UmsError.
 */
export class AgentSocket extends EventTarget {
  constructor(account, bearer) {
    super();
    this.url = socketUrl(account, bearer);
    this.ws = null;
    this.pending = new Map();
    this.closed = false;
    this._keepalive = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this._keepalive = setInterval(() => this.request(".GetClock", {}).catch(() => {}), KEEPALIVE_MS);
        resolve();
      };
      ws.onmessage = (e) => this._frame(e.data);
      ws.onclose = (e) => {
        this.closed = true;
        clearInterval(this._keepalive);
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new UmsError(`the socket closed (${e.code}) before the answer`));
        }
        this.pending.clear();
        if (!opened) reject(new UmsError(`the socket closed at once (${e.code}${e.reason ? `: ${e.reason}` : ""})`));
        this.dispatchEvent(new CustomEvent("close", { detail: { code: e.code, reason: e.reason, opened } }));
      };
    });
  }

  _frame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not JSON: the SDK ignores it too
    }
    if (!frame || typeof frame !== "object") return;
    if (frame.kind === "resp") {
      const p = this.pending.get(String(frame.reqId));
      if (!p) return;
      this.pending.delete(String(frame.reqId));
      clearTimeout(p.timer);
      if (Number(frame.code) > 399) p.reject(new UmsError(errorText(frame), frame));
      else p.resolve(frame);
    } else if (frame.kind === "notification") {
      this.dispatchEvent(new CustomEvent("notification", { detail: frame }));
    }
  }

  /** Send a request; the promise settles with its resp (code > 399 rejects). */
  request(type, body, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new UmsError("socket not connected"));
    }
    const id = uuid();
    const frame = { kind: "req", id, type, body: body === undefined ? {} : body };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UmsError(`${type}: Request has timed out`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify(frame));
    });
  }

  close(code = 1000, reason = "logged out") {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
  }
}

/** The text of an error resp: its details (and JSON path) as mockle and LiveEngage give them. */
export function errorText(frame) {
  const body = frame && frame.body;
  if (typeof body === "string") return `${frame.code}: ${body}`;
  if (body && typeof body === "object") {
    const parts = [body.details || body.msg || body.message || body.title || JSON.stringify(body)];
    if (body.path) parts.push(`at ${body.path}`);
    return `${frame.code}: ${parts.join(" ")}`;
  }
  return `error ${frame ? frame.code : "?"}`;
}
