/*
 * chat.js: the embeddable web chat widget's API and its connection; ui.js draws its window. `/widget/chat.js`
 * serves both as one script (views/widget.py), inside a function that defines SCRIPT = document.currentScript.
 * A company's page loads it with one tag:
 *
 *   <script src="https://center.example.com/widget/chat.js" data-sdk-app-id="1400000001" crossorigin="anonymous"></script>
 *
 * It exposes `window.tcccChat`: start, send, end, typing, read, on, off, open, close, messages, chat (README,
 * "Web chat widget"). `data-headless="true"` draws nothing: the page builds its own UI on the API.
 *
 * It talks to `/ws/visitor/` on the server that served it (the frames are described in sessions_app/domain/chat.py).
 * Every Promise resolves `{status: 'success', data}` or `{status: 'error', errorMsg}`; none rejects or hangs.
 * The visitor token is kept in sessionStorage, so a reload or a reconnect (with backoff) gets the conversation back.
 * Text from anyone is only ever inserted with textContent.
 */

const SDK_APP_ID = SCRIPT.dataset.sdkAppId || '';
const HEADLESS = SCRIPT.dataset.headless === 'true';
const TITLE = SCRIPT.dataset.title || 'Chat with us';
const SERVER = new URL(SCRIPT.src, location.href).origin;
const TOKEN_KEY = `tccc-chat:${SDK_APP_ID}:token`;
const OPEN_KEY = `tccc-chat:${SDK_APP_ID}:open`;
const VISITOR_KEY = `tccc-visitor:${SDK_APP_ID}`; // the call widget keeps the same one: one visitor per browser
const MAX_TEXT = 2000;
const MAX_FRAME_BYTES = 16 * 1024;
const REQUEST_TIMEOUT_MS = 10000;
const RECONNECT_FIRST_DELAY_MS = 500;
const RECONNECT_MAX_DELAY_MS = 10000;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;
const CLOSE_REFUSED = 4003;
const EVENTS = ['message', 'accepted', 'queued', 'ended', 'typing', 'read'];

// Storage can be unavailable (privacy modes, sandboxed frames): the widget then just forgets on reload.
const store = {
  get(key) { try { return sessionStorage.getItem(key) || ''; } catch (err) { return ''; } },
  set(key, value) { try { sessionStorage.setItem(key, value); } catch (err) { /* not kept */ } },
  remove(key) { try { sessionStorage.removeItem(key); } catch (err) { /* nothing kept */ } },
};

// The visitor id the server gave this browser, by which it counts the visitor's chats, calls and messages.
const visitorIds = {
  get() { try { return localStorage.getItem(VISITOR_KEY) || ''; } catch (err) { return ''; } },
  set(value) { try { localStorage.setItem(VISITOR_KEY, value); } catch (err) { /* a new one next time */ } },
};

function ok(data) {
  return data === undefined || data === null ? { status: 'success' } : { status: 'success', data };
}

function failure(errorMsg) {
  return { status: 'error', errorMsg };
}

function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/* Events: tcccChat.on(name, handler) / off(name, handler); a failing handler does not stop the others. */

const handlers = new Map(EVENTS.map((name) => [name, new Set()]));

function emit(name, data) {
  for (const handler of [...handlers.get(name)]) {
    try {
      handler(data);
    } catch (err) {
      console.error(`tcccChat: a ${name} handler failed`, err);
    }
  }
}

/* The conversation as this page knows it. */

const state = {
  chat: null, // {sessionId, state, position, agentNickname, closeBy, endStatus, readByAgent, readByVisitor}
  messages: [], // stored messages, in seq order
  outgoing: [], // {clientId, text, failed} not yet stored
  connection: 'idle', // idle | connecting | connected | reconnecting | stopped
  stoppedReason: '',
  agentTyping: false,
  notice: '',
};
let render = () => {};
let seen = new Set(); // ids of state.messages

function addMessage(message) {
  if (!message || !state.chat || message.sessionId !== state.chat.sessionId) return false;
  if (seen.has(message.id)) return false;
  seen.add(message.id);
  state.messages.push(message);
  state.messages.sort((a, b) => a.seq - b.seq);
  if (message.clientId) state.outgoing = state.outgoing.filter((o) => o.clientId !== message.clientId);
  if (message.sender === 'agent') state.agentTyping = false;
  emit('message', message);
  return true;
}

/** A chat's state from the server (start's reply, or a welcome after a reload or reconnect). */
function adoptChat(view) {
  const before = state.chat && state.chat.sessionId === view.sessionId ? state.chat : null;
  if (!before) {
    state.messages = [];
    state.outgoing = [];
    seen = new Set();
  }
  const { messages, ...chat } = view;
  state.chat = chat;
  for (const message of messages || []) addMessage(message);
  if (chat.state === 'queued' && chat.position && (!before || before.position !== chat.position)) {
    emit('queued', { sessionId: chat.sessionId, position: chat.position });
  }
  if (chat.state === 'active' && (!before || before.state !== 'active')) {
    emit('accepted', { sessionId: chat.sessionId, agentNickname: chat.agentNickname });
  }
  if (chat.state === 'ended' && (!before || before.state !== 'ended')) {
    emit('ended', { sessionId: chat.sessionId, closeBy: chat.closeBy, endStatus: chat.endStatus });
  }
}

function onEvent(name, data) {
  const chat = state.chat;
  if (!chat || !data || data.sessionId !== chat.sessionId) return;
  switch (name) {
    case 'message':
      addMessage(data);
      return render();
    case 'accepted':
      Object.assign(chat, { state: 'active', position: null, agentNickname: data.agentNickname });
      break;
    case 'queued':
      if (chat.state === 'queued' && chat.position === data.position) return; // the queue moved, not this chat
      Object.assign(chat, { state: 'queued', position: data.position });
      break;
    case 'ended':
      Object.assign(chat, { state: 'ended', closeBy: data.closeBy, endStatus: data.endStatus });
      state.agentTyping = false;
      state.notice = ''; // a warning about this chat no longer matters
      break;
    case 'typing':
      showAgentTyping();
      break;
    case 'read':
      chat.readByAgent = Math.max(chat.readByAgent || 0, data.seq);
      break;
    default:
      return; // an event newer than this widget
  }
  emit(name, data);
  render();
}

let typingTimer = null;
function showAgentTyping() {
  state.agentTyping = true;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    state.agentTyping = false;
    render();
  }, TYPING_SHOWN_MS);
}

/* The websocket: requests with ids and replies, events, reconnecting with the visitor token. */

const pending = new Map(); // id → {text, sent, resolve, timer, resend}
let nextId = 1;
let socket = null;
let welcomed = false;
let attempt = 0;
let reconnectTimer = null;

function socketUrl() {
  const query = new URLSearchParams({ sdkAppId: SDK_APP_ID });
  const token = store.get(TOKEN_KEY);
  if (token) query.set('visitorToken', token);
  if (visitorIds.get()) query.set('visitorId', visitorIds.get());
  return `${SERVER.replace(/^http/, 'ws')}/ws/visitor/?${query}`;
}

/** `resend`: safe to send again after a lost connection (sends carry a clientId; reads only move forward). */
function request(action, fields, resend) {
  return new Promise((resolve) => {
    if (state.stoppedReason) {
      resolve(failure(state.stoppedReason));
      return;
    }
    const id = nextId++;
    const text = JSON.stringify({ id, action, ...fields });
    if (new TextEncoder().encode(text).length > MAX_FRAME_BYTES) {
      resolve(failure('the request is larger than 16 KiB'));
      return;
    }
    const timer = setTimeout(() => settle(id, failure('no answer from the server within 10 s')), REQUEST_TIMEOUT_MS);
    pending.set(id, { text, sent: false, resolve, timer, resend: Boolean(resend) });
    connect();
    flush();
  });
}

function settle(id, result) {
  const entry = pending.get(id);
  if (!entry) return;
  pending.delete(id);
  clearTimeout(entry.timer);
  entry.resolve(result);
}

function flush() {
  if (!welcomed || !socket || socket.readyState !== WebSocket.OPEN) return;
  for (const entry of pending.values()) {
    if (entry.sent) continue;
    try {
      socket.send(entry.text);
      entry.sent = true;
    } catch (err) {
      return; // closing: its close handler reconnects and the rest goes then
    }
  }
}

function setConnection(value) {
  state.connection = value;
  render();
}

function connect() {
  if (socket || reconnectTimer || state.stoppedReason) return;
  setConnection(attempt > 0 ? 'reconnecting' : 'connecting');
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (err) {
    console.error('tcccChat: cannot open the websocket', err);
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.onmessage = (message) => { if (socket === ws) receive(message.data); };
  ws.onclose = (close) => { if (socket === ws) closed(close); };
}

function receive(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    return;
  }
  if (!frame || typeof frame !== 'object') return;
  if (frame.type === 'welcome') {
    welcomed = true;
    attempt = 0;
    if (frame.errorMsg) store.remove(TOKEN_KEY); // expired or unknown: the next chat starts afresh
    if (typeof frame.visitorId === 'string') visitorIds.set(frame.visitorId);
    if (frame.chat) adoptChat(frame.chat);
    setConnection('connected');
    flush();
    resendOutgoing();
    markRead();
  } else if (frame.type === 'reply') {
    const result = frame.status === 'success' ? ok(frame.data)
      : failure(typeof frame.errorMsg === 'string' && frame.errorMsg ? frame.errorMsg : 'the server answered with an error');
    settle(frame.id, result);
  } else if (frame.type === 'event' && typeof frame.event === 'string') {
    onEvent(frame.event, frame.data);
  } else if (frame.type === 'refused') {
    stop(`the chat is not available: ${frame.errorMsg || 'the server refused the connection'}`);
  }
}

function closed(close) {
  socket = null;
  welcomed = false;
  for (const [id, entry] of pending) {
    if (!entry.sent) continue;
    if (entry.resend) entry.sent = false;
    else settle(id, failure('the connection to the server was lost before it answered'));
  }
  if (close.code === CLOSE_REFUSED) stop(`the chat is not available: ${close.reason || 'the server refused the connection'}`);
  else scheduleReconnect();
}

function scheduleReconnect() {
  if (state.stoppedReason || reconnectTimer) return;
  setConnection('reconnecting');
  const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** attempt);
  attempt = Math.min(attempt + 1, 16);
  // ±20 % jitter so that visitors dropped by one server restart do not all come back in the same instant.
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    connect();
  }, base * (0.8 + Math.random() * 0.4));
}

window.addEventListener('online', () => {
  if (!reconnectTimer) return;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  connect();
});

function stop(reason) {
  if (state.stoppedReason) return;
  state.stoppedReason = reason;
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (socket) {
    const ws = socket;
    socket = null;
    try { ws.close(1000); } catch (err) { /* already closing */ }
  }
  for (const id of [...pending.keys()]) settle(id, failure(reason));
  console.error(`tcccChat: ${reason}`);
  setConnection('stopped');
}

/* The API. */

function chatOpen() {
  return Boolean(state.chat && state.chat.state !== 'ended');
}

async function start(options) {
  const o = options && typeof options === 'object' ? options : {};
  if (chatOpen()) return failure('a chat is already open: end it before starting another');
  const fields = {};
  for (const name of ['nickname', 'avatar', 'peerSource', 'channelName', 'clientData', 'skillGroupId']) {
    if (o[name] !== undefined && o[name] !== null) fields[name] = String(o[name]);
  }
  const result = await request('start', fields, false);
  if (result.status !== 'success') return result;
  store.set(TOKEN_KEY, result.data.visitorToken);
  adoptChat(result.data.chat);
  render();
  return ok({ sessionId: result.data.sessionId });
}

async function send(text) {
  if (typeof text !== 'string' || !text.trim()) return failure('the message is empty');
  const trimmed = text.trim();
  if ([...trimmed].length > MAX_TEXT) return failure(`the message is longer than ${MAX_TEXT} characters`);
  if (!chatOpen()) return failure('there is no open chat: start one first');
  const outgoing = { clientId: newClientId(), text: trimmed, failed: '' };
  state.outgoing.push(outgoing);
  render();
  return deliver(outgoing);
}

async function deliver(outgoing) {
  const result = await request('send', { text: outgoing.text, clientId: outgoing.clientId }, true);
  if (result.status === 'success') {
    addMessage(result.data);
    state.outgoing = state.outgoing.filter((o) => o !== outgoing);
  } else {
    outgoing.failed = result.errorMsg;
  }
  render();
  return result;
}

/** After a reconnect, messages that failed only because the connection was lost go again (same clientId). */
function resendOutgoing() {
  for (const outgoing of state.outgoing) {
    if (/connection|no answer/.test(outgoing.failed)) {
      outgoing.failed = '';
      deliver(outgoing);
    }
  }
}

/** Put an ended chat away (the widget then offers to start a new one); a reload no longer brings it back. */
function forgetEndedChat() {
  if (!state.chat || state.chat.state !== 'ended') return;
  state.chat = null;
  state.messages = [];
  state.outgoing = [];
  seen = new Set();
  store.remove(TOKEN_KEY);
  render();
}

async function end() {
  if (!chatOpen()) return failure('there is no open chat');
  return request('end', {}, false);
}

let typingSentAt = 0;
function typing() {
  if (!chatOpen()) return Promise.resolve(failure('there is no open chat'));
  const now = Date.now();
  if (now - typingSentAt < TYPING_EVERY_MS) return Promise.resolve(ok());
  typingSentAt = now;
  return request('typing', {}, false);
}

function read(seq) {
  if (!state.chat) return Promise.resolve(failure('there is no chat'));
  const upTo = Number.isInteger(seq) ? seq : lastSeq();
  if (upTo <= (state.chat.readByVisitor || 0)) return Promise.resolve(ok({ seq: state.chat.readByVisitor || 0 }));
  state.chat.readByVisitor = upTo;
  return request('read', { seq: upTo }, true);
}

function lastSeq() {
  return state.messages.length ? state.messages[state.messages.length - 1].seq : 0;
}

let markRead = () => {};

const api = {
  events: Object.fromEntries(EVENTS.map((name) => [name, name])),
  start,
  send,
  end,
  typing,
  read,
  on(name, handler) {
    if (handlers.has(name) && typeof handler === 'function') handlers.get(name).add(handler);
  },
  off(name, handler) {
    if (handlers.has(name)) handlers.get(name).delete(handler);
  },
  messages() {
    return state.messages.map((m) => ({ ...m }));
  },
  chat() {
    return state.chat ? { ...state.chat } : null;
  },
  open() {},
  close() {},
};
window.tcccChat = api;

if (store.get(TOKEN_KEY)) connect(); // a conversation to bring back
