// kiln's chat page: conversations in localStorage, answers streamed from
// /v1/chat/completions (server-sent events), rendered as Markdown. It uses
// only the public API, with the API key from the settings when one is set.
"use strict";

const STORE_KEY = "kiln.chat.v1";
const PARAMS = ["temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "presence_penalty", "frequency_penalty", "repetition_penalty"];
const SETTINGS = ["system", "stop_words", "schema", "tools", "tool_choice", "api_key", ...PARAMS];
const $ = (id) => document.getElementById(id);

// state is what localStorage keeps: the conversations, the current one and
// the settings.
let state = loadState();
let running = null; // {controller, conv, msg} while an answer streams

function loadState() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (s && Array.isArray(s.convs)) return { convs: s.convs, current: s.current, settings: s.settings || {} };
  } catch (e) {
    console.warn("kiln: ignoring unreadable saved conversations", e);
  }
  return { convs: [], current: null, settings: {} };
}

// saveState writes state to localStorage; the messages' element
// references (el) are not saved.
function saveState() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(state, (k, v) => (k === "el" ? undefined : v)));
  } catch (e) {
    setStatus("could not save conversations: " + e.message);
  }
}

function newID() {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

function currentConv() {
  let c = state.convs.find((c) => c.id === state.current);
  if (!c) {
    c = { id: newID(), title: "New chat", messages: [] };
    state.convs.unshift(c);
    state.current = c.id;
  }
  return c;
}

function setStatus(text) {
  $("status").textContent = text;
}

// ---- settings -------------------------------------------------------------

function loadSettings() {
  for (const k of SETTINGS) {
    if (state.settings[k] !== undefined) $(k).value = state.settings[k];
    $(k).addEventListener("change", () => {
      state.settings[k] = $(k).value;
      saveState();
    });
  }
}

// requestBody builds the chat request from the conversation and the
// settings; a settings error (bad JSON) is thrown with the field's name.
function requestBody(conv) {
  const body = { model: $("model").value || undefined, stream: true, stream_options: { include_usage: true } };
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  for (const m of conv.messages) {
    if (m.role === "assistant" && m.error) continue;
    const out = { role: m.role, content: m.content };
    if (m.tool_calls && m.tool_calls.length) {
      out.tool_calls = m.tool_calls.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.arguments } }));
      if (!m.content) out.content = null;
    }
    messages.push(out);
  }
  body.messages = messages;
  for (const k of PARAMS) {
    const v = $(k).value.trim();
    if (v !== "") body[k] = Number(v);
  }
  const stops = $("stop_words").value.split("\n").filter((s) => s !== "");
  if (stops.length) body.stop = stops;
  const schema = $("schema").value.trim();
  if (schema) {
    body.response_format = { type: "json_schema", json_schema: { name: "answer", schema: parseJSON(schema, "JSON schema"), strict: true } };
  }
  const tools = $("tools").value.trim();
  if (tools) body.tools = parseJSON(tools, "tools");
  if ($("tool_choice").value) body.tool_choice = $("tool_choice").value;
  return body;
}

function parseJSON(text, field) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(field + ": not valid JSON (" + e.message + ")");
  }
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api_key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

// ---- rendering ------------------------------------------------------------

function renderConversations() {
  const ul = $("conversations");
  ul.textContent = "";
  for (const c of state.convs) {
    const li = document.createElement("li");
    li.className = c.id === state.current ? "current" : "";
    const title = document.createElement("span");
    title.textContent = c.title;
    title.title = c.title;
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "×";
    del.title = "delete";
    del.onclick = (ev) => {
      ev.stopPropagation();
      if (running && running.conv === c) running.controller.abort();
      state.convs = state.convs.filter((x) => x !== c);
      if (state.current === c.id) state.current = state.convs.length ? state.convs[0].id : null;
      saveState();
      render();
    };
    li.append(title, del);
    li.onclick = () => {
      state.current = c.id;
      saveState();
      render();
    };
    ul.append(li);
  }
}

function render() {
  renderConversations();
  const conv = currentConv();
  const box = $("messages");
  box.textContent = "";
  conv.messages.forEach((m, i) => box.append(messageElement(conv, m, i === conv.messages.length - 1)));
  box.scrollTop = box.scrollHeight;
}

function messageElement(conv, m, last) {
  const div = document.createElement("div");
  div.className = "msg " + m.role + (m.streaming ? " streaming" : "");
  const role = document.createElement("div");
  role.className = "role";
  role.textContent = m.role;
  const content = document.createElement("div");
  content.className = "content";
  div.append(role, content);
  fillContent(div, m);
  const footer = document.createElement("div");
  footer.className = "footer";
  const stats = document.createElement("span");
  stats.className = "stats";
  stats.textContent = statsText(m);
  footer.append(stats);
  if (!m.streaming) {
    footer.append(button("Copy", "copy", () => copyText(m.content || JSON.stringify(m.tool_calls || []), footer)));
    if (m.role === "assistant" && last) footer.append(button("Regenerate", "regenerate", () => regenerate(conv)));
  }
  div.append(footer);
  m.el = div;
  return div;
}

// fillContent renders a message's text (Markdown for answers) and its
// tool calls, each as a call block, not as text.
function fillContent(div, m) {
  const content = div.querySelector(".content");
  content.innerHTML = renderMarkdown(m.content || "");
  for (const t of m.tool_calls || []) {
    const call = document.createElement("div");
    call.className = "tool-call";
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = "tool call: " + (t.name || "?") + (t.id ? "  (" + t.id + ")" : "");
    const args = document.createElement("pre");
    args.textContent = prettyJSON(t.arguments);
    call.append(name, args);
    content.append(call);
  }
  if (m.error) {
    const e = document.createElement("div");
    e.className = "error";
    e.textContent = m.error;
    content.append(e);
  }
}

function prettyJSON(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (e) {
    return text || "";
  }
}

function statsText(m) {
  const s = m.stats;
  if (!s) return "";
  const parts = [];
  if (s.tokens !== undefined) parts.push((s.estimated ? "≈" : "") + s.tokens + " tokens");
  if (s.tps !== undefined) parts.push(s.tps.toFixed(1) + " tok/s");
  if (s.ttft !== undefined) parts.push("TTFT " + Math.round(s.ttft) + " ms");
  if (s.finish) parts.push(s.finish);
  return parts.join(" · ");
}

function button(label, cls, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = label;
  b.onclick = onclick;
  return b;
}

function copyText(text, where) {
  const done = () => {
    const note = document.createElement("span");
    note.textContent = "copied";
    where.append(note);
    setTimeout(() => note.remove(), 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => copyFallback(text, done));
  } else {
    copyFallback(text, done);
  }
}

function copyFallback(text, done) {
  const ta = document.createElement("textarea");
  ta.value = text;
  document.body.append(ta);
  ta.select();
  try {
    document.execCommand("copy");
    done();
  } finally {
    ta.remove();
  }
}

// ---- talking to the server ----------------------------------------------

async function loadModels() {
  try {
    const resp = await fetch("/v1/models", { headers: headers() });
    const body = await resp.json();
    if (resp.status === 503) {
      // Still loading (or restarting): ask again shortly.
      setStatus((body.error && body.error.message) || "loading");
      setTimeout(loadModels, 2000);
      return;
    }
    if (!resp.ok) throw new Error((body.error && body.error.message) || resp.statusText);
    const sel = $("model");
    sel.textContent = "";
    for (const m of body.data) {
      const o = document.createElement("option");
      o.value = o.textContent = m.id;
      sel.append(o);
    }
    setStatus("ready");
  } catch (e) {
    setStatus("models: " + e.message + (/key/i.test(e.message) ? " (set the API key in the settings)" : ""));
  }
}

async function send(text) {
  if (running) return;
  const conv = currentConv();
  if (text !== null) {
    conv.messages.push({ role: "user", content: text });
    if (conv.title === "New chat") conv.title = text.slice(0, 40);
  }
  let body;
  try {
    body = requestBody(conv);
    $("settings-error").hidden = true;
  } catch (e) {
    $("settings-error").textContent = e.message;
    $("settings-error").hidden = false;
    saveState();
    render();
    return;
  }
  const msg = { role: "assistant", content: "", streaming: true, stats: {} };
  conv.messages.push(msg);
  saveState();
  render();
  const controller = new AbortController();
  running = { controller, conv, msg };
  $("send").hidden = true;
  $("stop").hidden = false;
  try {
    await stream(body, msg, controller.signal);
  } catch (e) {
    if (e.name === "AbortError") {
      msg.stats.finish = "stopped";
    } else {
      msg.error = e.message;
    }
  } finally {
    delete msg.streaming;
    running = null;
    $("send").hidden = false;
    $("stop").hidden = true;
    saveState();
    if (state.current === conv.id) render();
  }
}

// stream posts body and applies each event to msg: content and tool-call
// deltas, usage; TTFT is measured to the first delta, tokens/s over the
// rest (usage's completion_tokens, or the deltas counted when stopped).
async function stream(body, msg, signal) {
  const t0 = performance.now();
  let tFirst = 0;
  let deltas = 0;
  const stats = msg.stats;
  const resp = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal });
  if (!resp.ok) {
    let text = await resp.text();
    try {
      text = JSON.parse(text).error.message;
    } catch (e) {}
    throw new Error(resp.status + ": " + text);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const update = () => {
    const now = performance.now();
    if (tFirst) {
      stats.ttft = tFirst - t0;
      if (stats.tokens === undefined || stats.estimated) {
        stats.tokens = deltas;
        stats.estimated = true;
      }
      if (now > tFirst && stats.tokens > 1) stats.tps = ((stats.tokens - 1) * 1000) / (now - tFirst);
    }
    if (msg.el) {
      fillContent(msg.el, msg);
      msg.el.querySelector(".stats").textContent = statsText(msg);
      const box = $("messages");
      box.scrollTop = box.scrollHeight;
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) {
            stats.tokens = chunk.usage.completion_tokens;
            stats.estimated = false;
          }
          for (const c of chunk.choices || []) {
            const d = c.delta || {};
            if (d.content) msg.content += d.content;
            for (const t of d.tool_calls || []) {
              msg.tool_calls = msg.tool_calls || [];
              const call = (msg.tool_calls[t.index] = msg.tool_calls[t.index] || { id: "", name: "", arguments: "" });
              if (t.id) call.id = t.id;
              if (t.function && t.function.name) call.name = t.function.name;
              if (t.function && t.function.arguments) call.arguments += t.function.arguments;
            }
            if (d.content || d.tool_calls) {
              deltas++;
              if (!tFirst) tFirst = performance.now();
            }
            if (c.finish_reason) stats.finish = c.finish_reason;
          }
        }
      }
      update();
    }
  } finally {
    update();
  }
}

function regenerate(conv) {
  if (running) return;
  const last = conv.messages[conv.messages.length - 1];
  if (last && last.role === "assistant") conv.messages.pop();
  send(null);
}

// ---- wiring ---------------------------------------------------------------

function init() {
  loadSettings();
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("prompt").value;
    if (!text.trim() || running) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => running && running.controller.abort());
  $("new-chat").addEventListener("click", () => {
    if (running) running.controller.abort();
    const c = { id: newID(), title: "New chat", messages: [] };
    state.convs.unshift(c);
    state.current = c.id;
    saveState();
    render();
    $("prompt").focus();
  });
  $("api_key").addEventListener("change", loadModels);
  for (const c of state.convs) for (const m of c.messages) delete m.streaming;
  render();
  loadModels();
}

init();
