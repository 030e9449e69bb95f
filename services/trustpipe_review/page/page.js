// The review page: sign in against the user pool (Cognito's InitiateAuth, locally moto's), then
// the review API with the id token. Every value from the API is set as text, never as HTML.
"use strict";

const state = { token: sessionStorage.getItem("idToken"), config: null, selected: null };
const $ = (id) => document.getElementById(id);

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function config() {
  if (!state.config) state.config = await (await fetch("config.json")).json();
  return state.config;
}

function claims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part));
}

async function signIn(event) {
  event.preventDefault();
  const c = await config();
  const answer = await fetch(c.cognito_url, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: c.client_id,
      AuthParameters: { USERNAME: $("email").value, PASSWORD: $("password").value },
    }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok || !body.AuthenticationResult) {
    $("signin-error").textContent = body.message || "sign-in refused";
    return;
  }
  state.token = body.AuthenticationResult.IdToken;
  sessionStorage.setItem("idToken", state.token);
  show();
}

function signOut() {
  sessionStorage.removeItem("idToken");
  state.token = null;
  show();
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: "Bearer " + state.token };
  const answer = await fetch(path, { ...options, headers });
  const body = await answer.json().catch(() => ({}));
  if (answer.status === 401) signOut();
  if (!answer.ok) throw new Error(body.error || answer.statusText);
  return body;
}

async function load(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams({ size: "100", since: new Date(Date.now() - 864e5).toISOString() });
  if ($("verdict").value) params.set("verdict", $("verdict").value);
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  try {
    const page = await api("messages?" + params);
    const rows = page.messages.map((m) => {
      const row = el("tr");
      row.dataset.id = m.message_id;
      row.append(
        el("td", m.received_at), el("td", `${m.from_display_name} <${m.from_address}>`),
        el("td", m.score.toFixed(2)), el("td", m.verdict), el("td", (m.reasons || []).join(", ")),
        el("td", m.decision || ""));
      row.addEventListener("click", () => open(m.message_id));
      return row;
    });
    $("messages").replaceChildren(...rows);
    $("status").textContent = `${rows.length} messages in the last day`;
  } catch (err) {
    $("status").textContent = err.message;
  }
}

async function open(id) {
  try {
    const m = await api("messages/" + encodeURIComponent(id));
    state.selected = m.message_id;
    $("detail-title").textContent = m.message_id;
    const fields = [["from", `${m.from_display_name} <${m.from_address}>`], ["reply-to", m.reply_to],
      ["sending IP", m.sending_ip], ["received", m.received_at], ["score", m.score], ["verdict", m.verdict],
      ["reasons", (m.reasons || []).join(", ")], ["model", `${m.model_version} (promotion ${m.model_promotion})`],
      ["decision", m.decision ? `${m.decision} by ${m.decided_by} at ${m.decided_at}` : "none yet"]];
    $("detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
    $("decided").textContent = "";
    $("detail").hidden = false;
  } catch (err) {
    $("status").textContent = err.message;
  }
}

function key() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

async function decide(decision) {
  try {
    const answer = await api("messages/" + encodeURIComponent(state.selected) + "/decisions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key() },
      body: JSON.stringify({ decision }),
    });
    await load();
    await open(answer.message_id);
    $("decided").textContent = `${answer.decision}: done${answer.release_sent ? ", release sent" : ""}`;
  } catch (err) {
    $("decided").textContent = err.message;
  }
}

function show() {
  const signedIn = Boolean(state.token);
  $("signin").hidden = signedIn;
  $("review").hidden = !signedIn;
  $("signout").hidden = !signedIn;
  $("who").textContent = signedIn ? `${claims(state.token)["cognito:username"]} (${claims(state.token)["custom:enterprise"]})` : "";
  if (signedIn) load();
}

$("signin-form").addEventListener("submit", signIn);
$("search").addEventListener("submit", load);
$("signout").addEventListener("click", signOut);
for (const button of document.querySelectorAll("[data-decision]")) {
  button.addEventListener("click", () => decide(button.dataset.decision));
}
show();
