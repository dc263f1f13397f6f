// Boot: the account (from ?account=, the last one used, or the newest on the server), the
// inspector and the workspace, and the login form.

import { $ } from "./dom.js";
import { AuthNeeded, Inspector, control } from "./inspector.js";
import { Workspace } from "./workspace.js";

function remembered(key) {
  try {
    return localStorage.getItem(key) || "";
  } catch {
    return "";
  }
}

function remember(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage may be off: nothing to keep
  }
}

/** The account of the newest conversation on this mockle (a first-time visitor's default). */
async function newestAccount() {
  try {
    const doc = await control("GET", "/_mockle/conversations?state=OPEN");
    const convs = doc.conversations || [];
    return convs.length ? convs[convs.length - 1].account : "";
  } catch (err) {
    if (!(err instanceof AuthNeeded)) console.warn(err);
    return "";
  }
}

function setUrlAccount(account) {
  const url = new URL(location.href);
  if (account) url.searchParams.set("account", account);
  else url.searchParams.delete("account");
  history.replaceState(null, "", url);
}

async function boot() {
  const params = new URLSearchParams(location.search);
  const accountInput = $("#account");
  const nameInput = $("#agent-name");
  let account = params.get("account") || remembered("mockle.account");
  nameInput.value = remembered("mockle.agent");

  const inspector = new Inspector({
    conversationId: () => workspace.selected,
    onReset: (acc) => workspace.afterReset(acc),
  });
  const workspace = new Workspace({
    onConversation: () => inspector.draw(),
    onLogin: (acc) => {
      if (inspector.account !== acc) inspector.open(acc);
    },
  });
  window.mockleWorkspace = workspace; // for the console and the tests
  window.mockleInspector = inspector;

  if (!account) account = await newestAccount();
  accountInput.value = account;
  if (account) setUrlAccount(account);
  inspector.open(account);

  $("#login").addEventListener("submit", async (e) => {
    e.preventDefault();
    const acc = accountInput.value.trim();
    const name = nameInput.value.trim();
    if (!acc || !name) return;
    if (workspace.wanted && acc === inspector.account) return; // Enter in "Account": see below
    remember("mockle.account", acc);
    remember("mockle.agent", name);
    setUrlAccount(acc);
    try {
      await workspace.login(acc, name, $("#password").value);
    } catch {
      // shown in the page
    }
  });

  accountInput.addEventListener("change", async () => {
    const acc = accountInput.value.trim();
    if (!acc || acc === inspector.account) return;
    remember("mockle.account", acc);
    setUrlAccount(acc);
    inspector.open(acc);
    if (workspace.wanted && workspace.credentials) {
      const c = workspace.credentials;
      try {
        await workspace.login(acc, c.name, c.password);
      } catch {
        // shown in the page
      }
    }
  });
  document.documentElement.dataset.ready = "true";
}

boot();
