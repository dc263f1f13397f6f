// WebSocket load for benchmarks/run.py: a light generator, so that it is not the limit.
//
//   node benchmarks/ws_load.mjs MODE URL SECONDS CLIENTS [--procs N] [--warmup S]
//
// MODE mockle: each of CLIENTS consumers (signed up over HTTP) opens a conversation on the UMS
//   consumer socket, subscribes to its messaging events, then, in a closed loop, publishes a
//   text (ms.PublishEvent) and waits for its own notification of it before the next.
// MODE bare: the same frame sent to benchmarks/bare_app.py's echo socket (/ws), waiting for
//   its echo.
//
// The clients are spread over N worker processes (--procs, default 2). Frames are not parsed:
// a frame is the awaited one when it holds the message's unique text in quotes (and, for
// mockle, is a notification); the first frames of each socket (the set-up answers) are parsed
// and checked. No compression is offered (as aiohttp's client does not). Prints to stdout one
// JSON line {"event":"start"} when the measured window opens, {"event":"stop"} when it closes,
// then the result: messages, msgs_per_s, p50_ms, p99_ms and the generator's own CPU during the
// window (every worker and this parent, summed): gen_cpu_busy (1.0 = one core) and
// gen_cpu_us_per_msg.

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const ACC = "le-bench";
const SOCKET_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 0 };

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

// -- worker ----------------------------------------------------------------------------------

function nextFrame(ws) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no frame within 10 s")), 10_000);
    ws.once("message", (data) => {
      clearTimeout(timer);
      resolve(JSON.parse(data.toString()));
    });
  });
}

async function request(ws, id, type, body) {
  ws.send(JSON.stringify({ kind: "req", id, type, body }));
  for (;;) {
    const msg = await nextFrame(ws);
    if (msg.kind === "resp" && msg.reqId === id) {
      if (msg.code !== 200) throw new Error(`${type} answered ${JSON.stringify(msg)}`);
      return msg;
    }
  }
}

function connect(url, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ...SOCKET_OPTIONS, headers });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

async function mockleClient(base, n) {
  const signup = await fetch(`${base}/api/account/${ACC}/signup`, { method: "POST" });
  if (!signup.ok) throw new Error(`signup answered ${signup.status}`);
  const { jwt } = await signup.json();
  const wsUrl = base.replace("http://", "ws://") + `/ws_api/account/${ACC}/messaging/consumer?v=3`;
  const ws = await connect(wsUrl, { Authorization: `jwt ${jwt}` });
  const opened = await request(ws, "c", "cm.ConsumerRequestConversation", {});
  const dialogId = opened.body.conversationId;
  await request(ws, "s", "ms.SubscribeMessagingEvents", { dialogId, fromSeq: 0 });
  return { ws, dialogId, name: `bench-${process.pid}-${n}`, notification: true };
}

async function bareClient(base, n) {
  const ws = await connect(base.replace("http://", "ws://") + "/ws", {});
  return { ws, dialogId: "bare", name: `bench-${process.pid}-${n}`, notification: false };
}

async function worker() {
  const { mode, url, clients, first } = JSON.parse(process.env.WS_LOAD_WORKER);
  const make = mode === "mockle" ? mockleClient : bareClient;
  const socks = [];
  for (let i = 0; i < clients; i++) socks.push(await make(url, first + i));
  let recording = false;
  let running = true;
  let lat = [];
  let pending = 0;
  let onIdle = null;

  function publish(s) {
    s.k += 1;
    s.text = `${s.name}-${s.k}`;
    s.needle = `"${s.text}"`;
    const frame =
      `{"kind":"req","id":"${s.k}","type":"ms.PublishEvent","body":{"dialogId":"${s.dialogId}",` +
      `"event":{"type":"ContentEvent","contentType":"text/plain","message":"${s.text}"}}}`;
    s.t = performance.now();
    pending += 1;
    s.ws.send(frame);
  }

  for (const s of socks) {
    s.k = 0;
    s.needle = null; // frames of the set-up may still come in before the first publish
    s.ws.on("message", (data) => {
      if (s.needle === null || data.indexOf(s.needle) < 0) return;
      if (s.notification && data.indexOf('"notification"') < 0) return;
      const ms = performance.now() - s.t;
      s.needle = null;
      pending -= 1;
      if (recording) lat.push(ms);
      if (running) publish(s);
      else if (pending === 0 && onIdle) onIdle();
    });
    s.ws.on("close", () => {
      if (running) fail(`socket ${s.name} closed by the server`);
    });
  }

  let cpu0 = 0;
  let t0 = 0;
  process.on("message", (msg) => {
    if (msg.cmd === "go") {
      for (const s of socks) publish(s);
    } else if (msg.cmd === "record") {
      lat = [];
      recording = true;
      cpu0 = cpuMicros();
      t0 = performance.now();
    } else if (msg.cmd === "stop") {
      recording = false;
      const cpu = cpuMicros() - cpu0;
      const elapsed = (performance.now() - t0) / 1000;
      running = false;
      const finish = () => {
        for (const s of socks) s.ws.close();
        process.send({ cmd: "result", lat, cpu, elapsed }, () => process.exit(0));
      };
      if (pending === 0) finish();
      else {
        onIdle = finish;
        setTimeout(finish, 10_000); // a lost answer must not hang the run
      }
    }
  });
  process.send({ cmd: "ready" });
}

// -- parent ----------------------------------------------------------------------------------

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

async function parent(argv) {
  const opts = { procs: 2, warmup: 1 };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--procs") opts.procs = Number(argv[++i]);
    else if (argv[i] === "--warmup") opts.warmup = Number(argv[++i]);
    else rest.push(argv[i]);
  }
  const [mode, url, seconds, clients] = [rest[0], rest[1], Number(rest[2]), Number(rest[3])];
  if (!["mockle", "bare"].includes(mode) || !url || !(seconds > 0) || !(clients > 0)) {
    fail("usage: ws_load.mjs mockle|bare URL SECONDS CLIENTS [--procs N] [--warmup S]");
  }
  const procs = Math.max(1, Math.min(opts.procs, clients));
  const workers = [];
  let first = 0;
  for (let p = 0; p < procs; p++) {
    const count = Math.floor(clients / procs) + (p < clients % procs ? 1 : 0);
    const env = { ...process.env, WS_LOAD_WORKER: JSON.stringify({ mode, url, clients: count, first }) };
    first += count;
    const child = fork(fileURLToPath(import.meta.url), [], { env });
    child.on("exit", (code) => {
      if (code !== 0) fail(`worker ${p} exited with ${code}`);
    });
    workers.push(child);
  }
  const once = (child, cmd) =>
    new Promise((resolve) => {
      const on = (msg) => {
        if (msg.cmd === cmd) {
          child.off("message", on);
          resolve(msg);
        }
      };
      child.on("message", on);
    });
  await Promise.all(workers.map((w) => once(w, "ready")));
  for (const w of workers) w.send({ cmd: "go" });
  await new Promise((r) => setTimeout(r, opts.warmup * 1000));
  const cpu0 = cpuMicros();
  emit({ event: "start" });
  for (const w of workers) w.send({ cmd: "record" });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const results = workers.map((w) => once(w, "result"));
  for (const w of workers) w.send({ cmd: "stop" });
  const cpuParent = cpuMicros() - cpu0;
  emit({ event: "stop" });
  const done = await Promise.all(results);
  const lat = Float64Array.from(done.flatMap((d) => d.lat)).sort();
  const elapsed = Math.max(...done.map((d) => d.elapsed));
  const cpu = done.reduce((a, d) => a + d.cpu, cpuParent);
  const messages = lat.length;
  emit({
    generator: "ws_load.mjs",
    mode,
    clients,
    procs,
    seconds: elapsed,
    messages,
    msgs_per_s: messages / elapsed,
    p50_ms: pct(lat, 0.5),
    p99_ms: pct(lat, 0.99),
    max_ms: messages ? lat[messages - 1] : 0,
    gen_cpu_busy: cpu / 1e6 / elapsed,
    gen_cpu_us_per_msg: messages ? cpu / messages : 0,
  });
}

if (process.env.WS_LOAD_WORKER) {
  worker().catch((e) => fail(`worker: ${e.stack || e}`));
} else {
  parent(process.argv.slice(2)).catch((e) => fail(`ws_load: ${e.stack || e}`));
}
