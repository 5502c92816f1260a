'use strict';
const tenant = new URLSearchParams(location.search).get('tenant') || 'demo';
// Relative to the page, so that the chat also works behind a path prefix.
const api = new URL(`v1/chat/${encodeURIComponent(tenant)}/`, location.href);

function randomHex(bytes) {
  const a = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(a, b => b.toString(16).padStart(2, '0')).join('');
}
const newId = () => (crypto.randomUUID ? crypto.randomUUID() : randomHex(16));

// The visitor's session: the user id and the token the chat API gave it. localStorage can throw
// (private mode, disabled storage); the chat must still work without it, for this page's life.
const SESSION_KEY = `switchboard.${tenant}.session`;
function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.token === 'string' && typeof s.user === 'string' ? s : null;
  } catch { return null; }
}
function saveSession(s) {
  try { if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s)); else localStorage.removeItem(SESSION_KEY); } catch {}
}
// A token about to expire is replaced before it is used rather than failing mid-conversation.
const fresh = s => !!s && !(Date.parse(s.expires_at) < Date.now() + 60000);
let session = loadSession();

async function apiError(res) {
  let body = null;
  try { body = await res.json(); } catch {}
  const e = (body && body.error) || {};
  return { code: e.code || `http_${res.status}`, message: e.message || `The chat answered ${res.status}.`, status: res.status };
}

async function startSession() {
  const res = await fetch(new URL('sessions', api), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  if (!res.ok) throw await apiError(res);
  const s = await res.json();
  session = { user: s.user, token: s.token, expires_at: s.expires_at };
  saveSession(session);
  return session;
}

// A WebSocket refused at the upgrade shows the page nothing but a close; this asks the API
// whether the token is the reason.
async function tokenRejected() {
  if (!fresh(session)) return true;
  const conv = encodeURIComponent(conversationId || 'cnv_none');
  try {
    const res = await fetch(new URL(`conversations/${conv}/messages?limit=1`, api), {
      headers: { authorization: `Bearer ${session.token}` },
    });
    return res.status === 401;
  } catch { return false; }
}

// Highest seq shown on this page. A fresh page shows nothing yet, so it asks for the whole
// conversation; a reconnect of the same page asks only for what it missed.
let lastSeq = 0;
let conversationId = null;

const $ = id => document.getElementById(id);
const list = $('messages'), scroller = $('scroller'), input = $('input');
// The conversation being shown; an earlier one (closed meanwhile) stays above it.
let current = document.createElement('div');
current.className = 'conversation';
list.append(current);
const typing = $('typing'), statusEl = $('status'), conn = $('conn');
$('tenant').textContent = tenant;
document.title = `Switchboard · ${tenant}`;

const byId = new Map();    // server id -> element; the single source of truth for de-duplication
const pending = new Map(); // client_msg_id -> element, kept until acked so it can be re-sent after a reconnect

function hhmm(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (isNaN(d)) return '';
  return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
}
// seq numbers a conversation's messages from 1: a new one (the last was closed) starts below
// the old one, with what is still waiting for its ack, which belongs to the new one. Answers
// whether it did.
function setConversation(id) {
  if (!id) return false;
  const changed = conversationId !== null && id !== conversationId;
  conversationId = id;
  if (!changed) return false;
  lastSeq = 0;
  if (current.querySelector('[data-seq]')) {
    const divider = document.createElement('div');
    divider.className = 'divider';
    divider.setAttribute('role', 'separator');
    divider.textContent = 'New conversation';
    current = document.createElement('div');
    current.className = 'conversation';
    current.append(...pending.values());
    list.append(divider, current);
  }
  return true;
}
const scrollDown = () => { scroller.scrollTop = scroller.scrollHeight; };

function bubble(dir, text, sentAt) {
  const el = document.createElement('div');
  el.className = 'msg msg-' + dir;
  const b = document.createElement('div');
  b.className = 'bubble';
  b.textContent = text;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const t = document.createElement('time');
  t.textContent = hhmm(sentAt);
  if (sentAt) t.dateTime = sentAt;
  meta.append(t);
  if (dir === 'in') { const tick = document.createElement('span'); tick.className = 'tick'; meta.append(tick); }
  el.append(b, meta);
  return el;
}

const TICKS = { pending: ['…', 'sending'], sent: ['✓', 'sent'], read: ['✓✓', 'read'], failed: ['not delivered', 'not delivered'] };
function setState(el, state) {
  const tick = el.querySelector('.tick');
  if (!tick) return;
  // A late ack or history replay must not downgrade a message already known to be read.
  if (state === 'sent' && tick.classList.contains('read')) return;
  el.classList.toggle('pending', state === 'pending');
  el.classList.toggle('failed', state === 'failed');
  tick.className = 'tick ' + state;
  tick.textContent = TICKS[state][0];
  tick.setAttribute('aria-label', TICKS[state][1]);
}

// Insert by seq, walking back from the end since new messages almost always belong there.
// Bubbles still waiting for an ack have no seq and stay at the bottom.
function place(el, seq) {
  el.dataset.seq = seq;
  let n = current.lastElementChild;
  while (n && (n.dataset.seq === undefined || Number(n.dataset.seq) > seq)) n = n.previousElementSibling;
  if (n) n.after(el); else current.prepend(el);
}

// Only the newest bot message offers quick replies; older choices are stale.
function refreshQuickReplies() {
  list.querySelectorAll('.quick-replies').forEach(n => n.remove());
  const outs = list.querySelectorAll('.msg-out');
  const last = outs[outs.length - 1];
  if (!last || !last.quickReplies || !last.quickReplies.length) return;
  const box = document.createElement('div');
  box.className = 'quick-replies';
  for (const qr of last.quickReplies) {
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'quick-reply';
    btn.textContent = qr.title;
    btn.addEventListener('click', () => submit('postback', { payload: qr.payload, title: qr.title }, qr.title));
    box.append(btn);
  }
  last.append(box);
}

// Rich replies: a button of a card or a list item sends its payload, like a quick reply.
function choice(cls, title, payload, description) {
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = cls;
  btn.textContent = title;
  if (description) { const d = document.createElement('small'); d.textContent = description; btn.append(d); }
  btn.addEventListener('click', () => submit('postback', { payload, title }, title));
  return btn;
}
// Pictures come from the bot's own https URLs; anything else is not shown.
function picture(url, alt, cls) {
  if (typeof url !== 'string' || !url.startsWith('https://')) return null;
  const img = document.createElement('img');
  img.src = url;
  img.alt = alt || '';
  img.loading = 'lazy';
  if (cls) img.className = cls;
  return img;
}
function renderRich(el, m) {
  const b = el.querySelector('.bubble');
  const img = m.image && picture(m.image.url, m.text, 'rich-image');
  if (img) { b.before(img); if (!m.text) b.remove(); }
  if (Array.isArray(m.cards) && m.cards.length) {
    const row = document.createElement('div');
    row.className = 'cards';
    for (const c of m.cards) {
      const card = document.createElement('div');
      card.className = 'rich-card';
      const pic = picture(c.image_url, c.title);
      if (pic) card.append(pic);
      const title = document.createElement('div');
      title.className = 'title';
      title.textContent = c.title || '';
      card.append(title);
      if (c.subtitle) {
        const sub = document.createElement('div');
        sub.className = 'subtitle';
        sub.textContent = c.subtitle;
        card.append(sub);
      }
      const actions = document.createElement('div');
      actions.className = 'actions';
      for (const x of c.buttons || []) actions.append(choice('card-button', x.title, x.payload));
      card.append(actions);
      row.append(card);
    }
    b.replaceWith(row); // the text only repeats the titles, for clients without cards
  }
  if (m.list && Array.isArray(m.list.items)) {
    const details = document.createElement('details');
    details.className = 'rich-list';
    const summary = document.createElement('summary');
    summary.textContent = m.list.button || 'Options';
    const items = document.createElement('div');
    items.className = 'items';
    for (const i of m.list.items) items.append(choice('list-item', i.title, i.payload, i.description));
    details.append(summary, items);
    (el.querySelector('.bubble') || el.firstChild).after(details);
  }
}
// A reply still being written (a language model's tokens) shows as a draft bubble, replaced by
// the stored reply when its message frame arrives.
const drafts = new Map();
function onStream(s) {
  let el = drafts.get(s.in_reply_to);
  if (!el) {
    el = bubble('out', '', new Date().toISOString());
    el.classList.add('draft');
    drafts.set(s.in_reply_to, el);
    current.append(el);
    typing.hidden = true;
  }
  el.querySelector('.bubble').textContent += s.delta || '';
  scrollDown();
}

function onMessage(m) {
  setConversation(m.conversation_id);
  if (typeof m.seq === 'number' && m.seq > lastSeq) lastSeq = m.seq;
  const draft = m.in_reply_to && drafts.get(m.in_reply_to);
  if (draft) { draft.remove(); drafts.delete(m.in_reply_to); }
  if (!m.id || byId.has(m.id)) return;
  const dir = m.direction === 'out' ? 'out' : 'in';
  const el = bubble(dir, m.text || m.title || m.payload || '', m.sent_at);
  el.dataset.id = m.id;
  byId.set(m.id, el);
  if (dir === 'in') setState(el, 'sent');
  if (dir === 'out') {
    typing.hidden = true;
    if (Array.isArray(m.quick_replies)) el.quickReplies = m.quick_replies;
    renderRich(el, m);
  }
  place(el, Number(m.seq) || 0);
  refreshQuickReplies();
  scrollDown();
}

function onAck(a) {
  const el = pending.get(a.client_msg_id);
  if (!el) return;
  pending.delete(a.client_msg_id);
  setConversation(a.conversation_id);
  // The echo may have overtaken the ack; then the echoed bubble wins.
  const existing = byId.get(a.id);
  if (existing && existing !== el) { el.remove(); return; }
  el.dataset.id = a.id;
  byId.set(a.id, el);
  setState(el, 'sent');
  el.remove();
  place(el, Number(a.seq) || 0);
  // lastSeq is deliberately not advanced here: only rendered message frames count as "seen".
}

function onReceipt(r) {
  const el = byId.get(r.id);
  if (el && (r.status === 'read' || r.status === 'failed')) setState(el, r.status);
}

function showError(e) {
  let text = e.message || e.code || 'Something went wrong';
  if (e.retry_after_ms) text += ` (try again in ${Math.ceil(e.retry_after_ms / 1000)} s)`;
  $('error-text').textContent = text;
  $('error').hidden = false;
  const el = e.client_msg_id && pending.get(e.client_msg_id);
  if (el) { pending.delete(e.client_msg_id); setState(el, 'failed'); } // rejected: don't resend on reconnect
}
$('error-close').addEventListener('click', () => { $('error').hidden = true; });

let ws = null;
let backoff = 500;
function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}
function setConnected(up) {
  conn.classList.toggle('up', up);
  statusEl.textContent = up ? 'connected' : 'reconnecting…';
}

let retryTimer = null;
let connectionTrouble = false; // the error shown is about reaching the server, gone once connected
function retry() {
  setConnected(false);
  typing.hidden = true;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 10000);
}

async function connect() {
  if (!fresh(session)) {
    try {
      await startSession();
    } catch (e) {
      showError(e.status ? e : { message: 'Cannot reach the chat; retrying…' });
      connectionTrouble = true;
      retry();
      return;
    }
  }
  const url = new URL(`ws?token=${encodeURIComponent(session.token)}&after=${lastSeq}`, api);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(url);
  let opened = false;
  ws = sock;
  sock.onopen = () => {
    opened = true;
    backoff = 500;
    setConnected(true);
    if (connectionTrouble) { $('error').hidden = true; connectionTrouble = false; }
    // Anything unacked may never have reached the server; client_msg_id lets it drop duplicates.
    for (const el of pending.values()) sock.send(JSON.stringify(el.frame));
  };
  sock.onmessage = ev => {
    let f;
    try { f = JSON.parse(ev.data); } catch { return; }
    switch (f && f.type) {
      case 'ready':
        // Closed while this page was away: show the open one from its start.
        if (setConversation(f.conversation_id)) send({ type: 'hello', resume_after_seq: 0 });
        // If the server's history is shorter than ours (e.g. it was reset), resume from its end.
        if (typeof f.last_seq === 'number' && f.last_seq < lastSeq) lastSeq = f.last_seq;
        break;
      case 'ack': onAck(f); break;
      case 'message': onMessage(f); break;
      case 'stream': onStream(f); break;
      case 'typing': typing.hidden = !f.on; if (f.on) scrollDown(); break;
      case 'receipt': onReceipt(f); break;
      case 'error': showError(f); break;
    }
  };
  sock.onclose = async () => {
    if (ws !== sock) return;
    if (!opened && await tokenRejected()) {
      // The old token's conversation belongs to a user this page can no longer act as: start
      // over as a new visitor.
      session = null;
      saveSession(null);
      conversationId = null;
      lastSeq = 0;
      byId.clear();
      current = document.createElement('div');
      current.className = 'conversation';
      current.append(...pending.values());
      list.replaceChildren(current);
    }
    retry();
  };
}

function submit(type, fields, text) {
  const id = newId();
  const el = bubble('in', text);
  el.dataset.clientId = id;
  el.frame = { type, client_msg_id: id, ...fields };
  setState(el, 'pending');
  pending.set(id, el);
  current.append(el);
  scrollDown();
  send(el.frame); // if offline, onopen re-sends it
}

// A scroll bar only once the text outgrows the box; before that it would sit beside one line.
function autosize() {
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight, 120) + 'px';
  input.style.overflowY = input.scrollHeight > 120 ? 'auto' : 'hidden';
}
function sendInput() {
  const text = input.value.trim();
  if (!text) return;
  submit('message', { text }, text);
  input.value = '';
  autosize();
  input.focus();
}
$('composer').addEventListener('submit', e => { e.preventDefault(); sendInput(); });
input.addEventListener('keydown', e => {
  // Enter sends, Shift+Enter inserts a newline; never interrupt IME composition.
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendInput(); }
});
input.addEventListener('input', autosize);

connect();
