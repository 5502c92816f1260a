/* Switchboard chat widget.
 *
 *   <script src="https://switchboard.example/widget.js" data-tenant="acme"></script>
 *
 * Optional attributes: data-title (the panel's heading), data-user with data-user-signature or
 * data-user-jwt (a person the site has signed in, vouched for by the site's server).
 * JS API: Switchboard.open(), .close(), .identify({user, signature} | {jwt}), .logout().
 *
 * Everything lives in a Shadow DOM so that the host page's styles and ours never meet. The chat
 * API is called cross-origin: the tenant lists the sites allowed to do so (allowed_origins).
 */
(function () {
  'use strict';
  if (window.Switchboard && window.Switchboard.version) return; // the tag is on the page twice

  const script = document.currentScript || document.querySelector('script[src*="widget.js"][data-tenant]');
  if (!script) return;
  const cfg = script.dataset;
  const tenant = (cfg.tenant || '').trim();
  // The widget talks to the server it was loaded from, wherever that is mounted.
  const base = new URL('.', script.src);
  const api = new URL(`v1/chat/${encodeURIComponent(tenant)}/`, base);

  // ---- storage: the host page's localStorage, namespaced by tenant -------------------------

  // Storage can throw (private mode, blocked by the site); the chat then lasts as long as the page.
  const KEY = `switchboard.${tenant}.session`;
  const OPEN_KEY = `switchboard.${tenant}.open`;
  function load() {
    try {
      const s = JSON.parse(localStorage.getItem(KEY) || 'null');
      return s && typeof s.token === 'string' && typeof s.user === 'string' ? s : null;
    } catch { return null; }
  }
  function save() {
    try { if (session) localStorage.setItem(KEY, JSON.stringify(session)); else localStorage.removeItem(KEY); } catch {}
  }
  function wasOpen() { try { return sessionStorage.getItem(OPEN_KEY) === '1'; } catch { return false; } }
  function rememberOpen(v) { try { sessionStorage.setItem(OPEN_KEY, v ? '1' : '0'); } catch {} }

  // ---- the session: who this visitor is to the chat API ---------------------------------------

  // {user, token, expires_at, identified, seen}: `seen` is the last seq shown in an open panel,
  // so that what arrives while the panel is closed (or the page is away) counts as unread.
  let session = load();
  // The identity the site vouches for, used again whenever a token has to be replaced.
  let identity = null;
  // A token about to expire is replaced before it is used rather than failing mid-conversation.
  const fresh = s => !!s && !(Date.parse(s.expires_at) < Date.now() + 60000);

  class ChatError extends Error {
    constructor(code, message, status) { super(message); this.code = code; this.status = status; }
  }
  async function apiError(res) {
    let body = null;
    try { body = await res.json(); } catch {}
    const e = (body && body.error) || {};
    return new ChatError(e.code || `http_${res.status}`, e.message || `The chat answered ${res.status}.`, res.status);
  }

  // The body is always JSON so that the browser asks the server first (a CORS preflight): a page
  // on a site the tenant did not allow then sends nothing at all.
  async function startSession(ident) {
    let res;
    try {
      res = await fetch(new URL('sessions', api), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ident ? { identity: ident } : {}),
        credentials: 'omit',
      });
    } catch {
      throw new ChatError('unreachable', 'The chat is not available on this site.', 0);
    }
    if (!res.ok) throw await apiError(res);
    const s = await res.json();
    // `seen` stays with the person; for one new to this browser it is set from the first
    // `ready` frame, so that a conversation continued from another device is not all unread.
    const same = session && session.user === s.user;
    // Someone else now (an expired visitor's token, another person): their conversation is not
    // this one.
    if (session && !same) clearConversation();
    session = { user: s.user, token: s.token, expires_at: s.expires_at, identified: !!ident, seen: same ? session.seen : null };
    save();
    return session;
  }

  let starting = null;
  let stale = false; // the stored session is not the person the site now says this is
  function ensureSession() {
    if (!stale && fresh(session)) return Promise.resolve(session);
    if (!starting) {
      starting = startSession(identity)
        .then(s => { stale = false; return s; })
        .finally(() => { starting = null; });
    }
    return starting;
  }

  // The user a JWT names, read without checking it (the server does), only to tell whether the
  // stored session already belongs to that person.
  function jwtSubject(jwt) {
    try {
      const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(part), c => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes)).sub || null;
    } catch { return null; }
  }
  function identityUser(ident) { return ident.jwt ? jwtSubject(ident.jwt) : ident.user; }

  let failed = false; // the chat cannot work on this page; nothing more is tried until asked

  // ---- the UI -------------------------------------------------------------------------------

  // web.rs puts widget.css here, as a string, when it serves this file.
  const CSS = '__SWITCHBOARD_WIDGET_CSS__';

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (v !== false && v != null) el.setAttribute(k, v === true ? '' : v);
    }
    el.append(...children.filter(c => c != null));
    return el;
  }
  function icon(path, cls) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('class', cls);
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', path);
    svg.append(p);
    return svg;
  }

  const host = document.createElement('switchboard-chat');
  const shadow = host.attachShadow({ mode: 'open' });
  // A constructed stylesheet is not an inline <style>: a host page whose CSP forbids inline
  // styles still shows the widget right.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    shadow.append(h('style', { text: CSS }));
  }

  const title = (cfg.title || tenant || 'Chat').trim();
  const badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-label': 'Open chat', 'aria-expanded': 'false' },
    icon('M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z', 'when-closed'),
    icon('M6.4 8.6 12 14.2l5.6-5.6L19 10l-7 7-7-7z', 'when-open'), badge);
  const statusEl = h('div', { class: 'status', role: 'status', text: '' });
  const closeBtn = h('button', { type: 'button', class: 'close', 'aria-label': 'Close chat', text: '×' });
  const list = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  // The conversation being shown; an earlier one (closed meanwhile) stays above it.
  let current = h('div', { class: 'conversation' });
  list.append(current);
  const typing = h('div', { class: 'typing', hidden: true }, h('i'), h('i'), h('i'), h('span', { class: 'sr-only', text: 'typing…' }));
  const scroller = h('div', { class: 'scroller' }, list, typing);
  const retryBtn = h('button', { type: 'button', class: 'retry', text: 'Try again' });
  const unavailable = h('div', { class: 'unavailable', hidden: true, role: 'alert' },
    h('strong', { text: 'Chat unavailable' }), h('span', { class: 'why' }), retryBtn);
  const notice = h('p', { class: 'notice', role: 'alert', hidden: true });
  const input = h('textarea', { rows: '1', maxlength: '4000', placeholder: 'Type a message…', 'aria-label': 'Message' });
  const sendBtn = h('button', { type: 'submit', class: 'send', text: 'Send' });
  const form = h('form', { autocomplete: 'off' }, input, sendBtn);
  const panel = h('div', { class: 'panel', role: 'dialog', 'aria-label': title, hidden: true },
    h('header', {}, h('div', { class: 'heading' }, h('div', { class: 'title', text: title }), statusEl), closeBtn),
    scroller, unavailable, notice, form);
  shadow.append(h('div', { class: 'root' }, panel, launcher));

  const scrollDown = () => { scroller.scrollTop = scroller.scrollHeight; };
  const setStatus = t => { statusEl.textContent = t; };

  function showNotice(text) { notice.textContent = text; notice.hidden = !text; }

  // The chat cannot work here (the site is not allowed, the tenant is unknown or suspended):
  // say so plainly and take away the controls, rather than letting messages vanish.
  function setUnavailable(why) {
    unavailable.querySelector('.why').textContent = why;
    unavailable.hidden = false;
    scroller.hidden = true;
    input.disabled = true;
    sendBtn.disabled = true;
    setStatus('unavailable');
  }
  function setAvailable() {
    failed = false;
    unavailable.hidden = true;
    scroller.hidden = false;
    input.disabled = false;
    sendBtn.disabled = false;
  }
  retryBtn.addEventListener('click', () => { setAvailable(); connect(); });
  function unavailableReason(e) {
    if (!tenant) return 'The chat script has no data-tenant attribute.';
    switch (e && e.code) {
      case 'unknown_tenant': return 'This chat does not exist.';
      case 'tenant_suspended': return 'This chat is switched off for now.';
      case 'invalid_identity': case 'invalid_user':
        return 'Your sign-in could not be confirmed. Reload the page to try again.';
      case 'identity_not_configured': return 'This chat cannot recognise signed-in users yet.';
      default: return 'This site is not allowed to use this chat, or the chat cannot be reached.';
    }
  }

  // ---- messages -----------------------------------------------------------------------------

  let lastSeq = 0;      // highest seq shown in this page's list
  let unread = 0;
  const byId = new Map();    // server id -> element: de-duplicates echoes, replays and acks
  const pending = new Map(); // client_msg_id -> element, re-sent after a reconnect until acked
  const drafts = new Map();  // in_reply_to -> element of a reply still being written

  function bubble(dir, text) {
    return h('div', { class: `msg ${dir}` }, h('div', { class: 'bubble', text }));
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
    const outs = list.querySelectorAll('.msg.out');
    const last = outs[outs.length - 1];
    if (!last || !last.quickReplies || !last.quickReplies.length) return;
    last.append(h('div', { class: 'quick-replies' }, ...last.quickReplies.map(q =>
      h('button', { type: 'button', class: 'quick-reply', text: q.title, onclick: () => submit('postback', { payload: q.payload, title: q.title }, q.title) }))));
  }

  function choice(cls, title, payload, description) {
    const btn = h('button', { type: 'button', class: cls, text: title, onclick: () => submit('postback', { payload, title }, title) });
    if (description) btn.append(h('small', { text: description }));
    return btn;
  }
  // Pictures come from the bot's own https URLs; anything else is not shown.
  function picture(url, alt, cls) {
    if (typeof url !== 'string' || !url.startsWith('https://')) return null;
    return h('img', { src: url, alt: alt || '', loading: 'lazy', class: cls || false, referrerpolicy: 'no-referrer' });
  }
  function renderRich(el, m) {
    const b = el.querySelector('.bubble');
    const img = m.image && picture(m.image.url, m.text, 'rich-image');
    if (img) { b.before(img); if (!m.text) b.remove(); }
    if (Array.isArray(m.cards) && m.cards.length) {
      const row = h('div', { class: 'cards' }, ...m.cards.map(c => h('div', { class: 'card' },
        picture(c.image_url, c.title),
        h('div', { class: 'card-title', text: c.title || '' }),
        c.subtitle ? h('div', { class: 'subtitle', text: c.subtitle }) : null,
        h('div', { class: 'actions' }, ...(c.buttons || []).map(x => choice('card-button', x.title, x.payload))))));
      b.replaceWith(row); // the text only repeats the titles, for clients without cards
    }
    if (m.list && Array.isArray(m.list.items)) {
      const details = h('details', { class: 'rich-list' },
        h('summary', { text: m.list.button || 'Options' }),
        h('div', { class: 'items' }, ...m.list.items.map(i => choice('list-item', i.title, i.payload, i.description))));
      (el.querySelector('.bubble') || el.firstChild).after(details);
    }
  }

  function setState(el, state) {
    if (state === 'sent' && el.classList.contains('read')) return;
    el.classList.remove('pending', 'sent', 'read', 'failed');
    el.classList.add(state);
  }

  function onMessage(m) {
    if (typeof m.seq !== 'number') return;
    const draft = m.in_reply_to && drafts.get(m.in_reply_to);
    if (draft) { draft.remove(); drafts.delete(m.in_reply_to); }
    if (!m.id || byId.has(m.id)) return;
    if (m.seq > lastSeq) lastSeq = m.seq;
    const dir = m.direction === 'out' ? 'out' : 'in';
    const el = bubble(dir, m.text || m.title || m.payload || '');
    el.dataset.id = m.id;
    byId.set(m.id, el);
    if (dir === 'in') setState(el, 'sent');
    if (dir === 'out') {
      typing.hidden = true;
      if (Array.isArray(m.quick_replies)) el.quickReplies = m.quick_replies;
      renderRich(el, m);
    }
    place(el, m.seq);
    refreshQuickReplies();
    if (isOpen()) {
      markSeen();
      scrollDown();
    } else if (dir === 'out' && session && session.seen != null && m.seq > session.seen) {
      setUnread(unread + 1);
    }
  }

  function onAck(a) {
    const el = pending.get(a.client_msg_id);
    if (!el) return;
    pending.delete(a.client_msg_id);
    // The echo may have overtaken the ack; then the echoed bubble wins.
    const existing = byId.get(a.id);
    if (existing && existing !== el) { el.remove(); return; }
    el.dataset.id = a.id;
    byId.set(a.id, el);
    setState(el, 'sent');
    el.remove();
    place(el, Number(a.seq) || 0);
  }

  function onStream(s) {
    let el = drafts.get(s.in_reply_to);
    if (!el) {
      el = bubble('out draft', '');
      drafts.set(s.in_reply_to, el);
      current.append(el);
      typing.hidden = true;
    }
    el.querySelector('.bubble').textContent += s.delta || '';
    scrollDown();
  }

  function onError(f) {
    showNotice(f.message || f.code || 'Something went wrong.');
    const el = f.client_msg_id && pending.get(f.client_msg_id);
    if (el) { pending.delete(f.client_msg_id); setState(el, 'failed'); } // refused: not re-sent
  }

  function clearConversation() {
    current = h('div', { class: 'conversation' });
    list.replaceChildren(current);
    byId.clear();
    pending.clear();
    drafts.clear();
    lastSeq = 0;
    conversationId = null;
    setUnread(0);
  }

  // seq numbers a conversation's messages from 1: a new one (the last was closed) starts below
  // the old one, with what is still waiting for its ack, which belongs to the new one.
  function newConversation(id) {
    if (current.querySelector('[data-seq]')) {
      const next = h('div', { class: 'conversation' }, ...pending.values());
      list.append(h('div', { class: 'divider', role: 'separator', text: 'New conversation' }), next);
      current = next;
    }
    drafts.clear();
    lastSeq = 0;
    conversationId = id;
    if (session) { session.seen = 0; save(); }
  }
  function follow(id) {
    if (!id) return;
    if (conversationId && id !== conversationId) newConversation(id);
    conversationId = id;
  }

  // ---- unread -------------------------------------------------------------------------------

  function setUnread(n) {
    unread = n;
    badge.textContent = n > 99 ? '99+' : String(n);
    badge.hidden = n === 0;
    launcher.setAttribute('aria-label', n ? `Open chat, ${n} unread message${n === 1 ? '' : 's'}` : 'Open chat');
  }
  function markSeen() {
    if (session && lastSeq > (session.seen || 0)) { session.seen = lastSeq; save(); }
    setUnread(0);
  }

  // ---- the socket ---------------------------------------------------------------------------

  let ws = null;
  // Bumped whenever the socket is dropped on purpose (another person, a sign-out): a connect
  // that was waiting for a session then gives way to the one that follows.
  let epoch = 0;
  let backoff = 500;
  let retryTimer = null;
  let conversationId = null;

  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function disconnect() {
    epoch += 1;
    clearTimeout(retryTimer);
    const old = ws;
    ws = null;
    if (old) old.close();
  }

  function retry() {
    setStatus('reconnecting…');
    typing.hidden = true;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  }

  // A refused WebSocket shows the page nothing but a close; this asks the API whether the token
  // was the reason.
  async function tokenRejected() {
    if (!fresh(session)) return true;
    const conv = encodeURIComponent(conversationId || 'cnv_none');
    try {
      const res = await fetch(new URL(`conversations/${conv}/messages?limit=1`, api), {
        headers: { authorization: `Bearer ${session.token}` }, credentials: 'omit',
      });
      return res.status === 401;
    } catch { return false; }
  }

  async function connect() {
    if (failed || ws) return;
    const mine = epoch;
    clearTimeout(retryTimer);
    setStatus('connecting…');
    try {
      await ensureSession();
    } catch (e) {
      if (mine !== epoch) return;
      // Refused outright (not allowed here, no such tenant, a bad signature): retrying changes
      // nothing. A server that is down may come back.
      if (e.status === 0 || (e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429)) {
        failed = true;
        setUnavailable(unavailableReason(e));
        return;
      }
      retry();
      return;
    }
    if (ws || mine !== epoch) return;
    const url = new URL(`ws?token=${encodeURIComponent(session.token)}&after=${lastSeq}`, api);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(url);
    let opened = false;
    ws = sock;
    sock.onopen = () => {
      opened = true;
      backoff = 500;
      setStatus('online');
      showNotice('');
      // Anything unacked may never have reached the server; client_msg_id lets it drop duplicates.
      for (const el of pending.values()) sock.send(JSON.stringify(el.frame));
    };
    sock.onmessage = ev => {
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      switch (f && f.type) {
        case 'ready':
          if (f.conversation_id && conversationId && f.conversation_id !== conversationId) {
            // The conversation shown was closed meanwhile: show the open one from its start.
            newConversation(f.conversation_id);
            sendFrame({ type: 'hello', resume_after_seq: 0 });
          }
          conversationId = f.conversation_id || conversationId;
          if (session && session.seen == null && typeof f.last_seq === 'number') { session.seen = f.last_seq; save(); }
          break;
        case 'ack': follow(f.conversation_id); onAck(f); break;
        case 'message': follow(f.conversation_id); onMessage(f); break;
        case 'stream': onStream(f); break;
        case 'typing': typing.hidden = !f.on; if (f.on) scrollDown(); break;
        case 'receipt': { const el = byId.get(f.id); if (el && (f.status === 'read' || f.status === 'failed')) setState(el, f.status); break; }
        case 'error': onError(f); break;
      }
    };
    sock.onclose = async () => {
      if (ws !== sock) return;
      ws = null;
      const rejected = !opened && await tokenRejected();
      if (mine !== epoch || ws) return; // someone else's session meanwhile
      if (rejected) {
        // A new token is a new visitor unless the site vouches for who this is: then the
        // same person's conversation comes back with the new token.
        const sameUser = identity && session && identityUser(identity) === session.user;
        session = null;
        save();
        if (!sameUser) clearConversation();
      }
      retry();
    };
  }

  // ---- sending ------------------------------------------------------------------------------

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    return Array.from(crypto.getRandomValues(new Uint8Array(16)), b => b.toString(16).padStart(2, '0')).join('');
  }

  function submit(type, fields, text) {
    if (failed) return;
    const id = newId();
    const el = bubble('in', text);
    el.frame = { type, client_msg_id: id, ...fields };
    setState(el, 'pending');
    pending.set(id, el);
    current.append(el);
    scrollDown();
    if (ws) sendFrame(el.frame); else connect(); // onopen sends what is pending
  }

  // A scroll bar only once the text outgrows the box; before that it would sit beside one line.
  function autosize() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 110) + 'px';
    input.style.overflowY = input.scrollHeight > 110 ? 'auto' : 'hidden';
  }
  function sendInput() {
    const text = input.value.trim();
    if (!text) return;
    submit('message', { text }, text);
    input.value = '';
    autosize();
    input.focus();
  }
  form.addEventListener('submit', e => { e.preventDefault(); sendInput(); });
  input.addEventListener('keydown', e => {
    // Enter sends, Shift+Enter breaks the line; never interrupt an IME composition.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendInput(); }
  });
  input.addEventListener('input', autosize);

  // ---- open / close -------------------------------------------------------------------------

  const isOpen = () => !panel.hidden;
  function open() {
    panel.hidden = false;
    launcher.setAttribute('aria-expanded', 'true');
    rememberOpen(true);
    markSeen();
    scrollDown();
    if (!failed) { input.focus(); connect(); }
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    rememberOpen(false);
    launcher.focus();
  }
  launcher.addEventListener('click', () => (isOpen() ? close() : open()));
  closeBtn.addEventListener('click', close);
  panel.addEventListener('keydown', e => { if (e.key === 'Escape') close(); });

  // ---- identity -----------------------------------------------------------------------------

  function identityFrom(o) {
    if (o && typeof o.jwt === 'string' && o.jwt) return { jwt: o.jwt };
    if (o && typeof o.user === 'string' && o.user && typeof o.signature === 'string' && o.signature) {
      return { user: o.user, signature: o.signature };
    }
    return null;
  }

  // Switches to the person the site vouches for: a new token for their user, and their
  // conversation (the same one on every device they use).
  async function identify(o) {
    const ident = identityFrom(o);
    if (!ident) throw new TypeError('Switchboard.identify needs {user, signature} or {jwt}');
    identity = ident;
    const known = identityUser(ident);
    if (session && session.identified && fresh(session) && known && session.user === known) {
      setAvailable();
      connect();
      return { user: session.user };
    }
    // A visitor's session being started must not end up standing for the identified person.
    if (starting) await starting.catch(() => {});
    stale = true;
    disconnect();
    clearConversation();
    conversationId = null;
    setAvailable();
    try {
      await ensureSession();
    } catch (e) {
      failed = true;
      setUnavailable(unavailableReason(e));
      throw e;
    }
    connect();
    return { user: session.user };
  }

  // For a site's sign-out: the next visitor on this browser starts a conversation of their own.
  function logout() {
    disconnect();
    identity = null;
    stale = false;
    session = null;
    save();
    clearConversation();
    conversationId = null;
  }

  // Another tab of the site changed the session. Messages read there are read here too, and a
  // visitor who had to start over there is the same new visitor here, so that the tabs do not
  // split one person in two. Who a signed-in page names is that page's to say: a change to
  // another person in another tab is left alone.
  window.addEventListener('storage', e => {
    if (e.key !== KEY) return;
    const next = load();
    if (!next) return;
    if (session && next.user === session.user) {
      session = next;
      if (next.seen != null && next.seen >= lastSeq) setUnread(0);
      return;
    }
    if (next.identified || identity || (session && session.identified)) return;
    disconnect();
    clearConversation();
    session = next;
    connect();
  });

  window.Switchboard = Object.freeze({ version: 1, open, close, identify, logout });

  // ---- start --------------------------------------------------------------------------------

  function start() {
    document.body.append(host);
    if (!tenant) { failed = true; setUnavailable(unavailableReason(null)); return; }
    const attr = identityFrom({ user: cfg.user, signature: cfg.userSignature, jwt: cfg.userJwt });
    if (attr) {
      identify(attr).catch(() => {});
    } else if (session && session.identified) {
      // The site no longer says who this is (signed out): the person's conversation stays theirs.
      logout();
    } else if (session) {
      // Someone who chatted before: connect now, so that what arrives shows on the launcher.
      connect();
    }
    if (wasOpen()) open();
  }
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
