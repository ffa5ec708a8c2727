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
// CHAT_PROTOCOL (events, startFields, maxText, maxFrameBytes) is the server's declaration (domain/chat.py).
const MAX_TEXT = CHAT_PROTOCOL.maxText;
const MAX_FRAME_BYTES = CHAT_PROTOCOL.maxFrameBytes;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;

// Storage can be unavailable (privacy modes, sandboxed frames): the widget then just forgets on reload.
const store = {
  get(key) { try { return sessionStorage.getItem(key) || ''; } catch (err) { return ''; } },
  set(key, value) { try { sessionStorage.setItem(key, value); } catch (err) { /* not kept */ } },
  remove(key) { try { sessionStorage.removeItem(key); } catch (err) { /* nothing kept */ } },
};

const visitorIds = visitorIdStore(SDK_APP_ID);

function newClientId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

const chatEvents = createWidgetEvents(CHAT_PROTOCOL.events, 'tcccChat');
const emit = chatEvents.emit;

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

/* The websocket (common/rpc.js): opened by the first request, or at load for a conversation to bring back. */

const client = createRpcClient({
  label: 'tcccChat',
  url() {
    const query = new URLSearchParams({ sdkAppId: SDK_APP_ID });
    const token = store.get(TOKEN_KEY);
    if (token) query.set('visitorToken', token);
    if (visitorIds.get()) query.set('visitorId', visitorIds.get());
    return `${SERVER.replace(/^http/, 'ws')}/ws/visitor/?${query}`;
  },
  maxFrameBytes: MAX_FRAME_BYTES,
  lostReply: 'the connection to the server was lost before it answered',
  // Sends carry a clientId and reads only move forward: both are safe to send again after a lost connection.
  keepWhenLost: (fields) => fields.action === 'send' || fields.action === 'read',
  onWelcome(frame) {
    if (frame.errorMsg) store.remove(TOKEN_KEY); // expired or unknown: the next chat starts afresh
    if (typeof frame.visitorId === 'string') visitorIds.set(frame.visitorId);
    if (frame.chat) adoptChat(frame.chat);
    render();
    resendOutgoing();
    markRead();
  },
  onEvent,
  onFrame(frame) {
    if (frame.type === 'refused') {
      client.stop(`the chat is not available: ${frame.errorMsg || 'the server refused the connection'}`);
    }
  },
  onClose(close) {
    if (close && close.code === CLOSE_REFUSED) {
      return `the chat is not available: ${close.reason || 'the server refused the connection'}`;
    }
    return ''; // reconnect with the visitor token
  },
  onState(connection, reason) {
    if (connection === 'stopped') {
      state.stoppedReason = reason;
      console.error(`tcccChat: ${reason}`);
    }
    state.connection = connection;
    render();
  },
});

function request(action, fields) {
  return client.request({ action, ...fields });
}

/* The API. */

function chatOpen() {
  return Boolean(state.chat && state.chat.state !== 'ended');
}

async function start(options) {
  const o = options && typeof options === 'object' ? options : {};
  if (chatOpen()) return failure('a chat is already open: end it before starting another');
  const fields = {};
  for (const name of CHAT_PROTOCOL.startFields) {
    if (o[name] !== undefined && o[name] !== null) fields[name] = String(o[name]);
  }
  const result = await request('start', fields);
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
  const result = await request('send', { text: outgoing.text, clientId: outgoing.clientId });
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
  return request('end', {});
}

let typingSentAt = 0;
function typing() {
  if (!chatOpen()) return Promise.resolve(failure('there is no open chat'));
  const now = Date.now();
  if (now - typingSentAt < TYPING_EVERY_MS) return Promise.resolve(ok());
  typingSentAt = now;
  return request('typing', {});
}

function read(seq) {
  if (!state.chat) return Promise.resolve(failure('there is no chat'));
  const upTo = Number.isInteger(seq) ? seq : lastSeq();
  if (upTo <= (state.chat.readByVisitor || 0)) return Promise.resolve(ok({ seq: state.chat.readByVisitor || 0 }));
  state.chat.readByVisitor = upTo;
  return request('read', { seq: upTo });
}

function lastSeq() {
  return state.messages.length ? state.messages[state.messages.length - 1].seq : 0;
}

let markRead = () => {};

const api = {
  events: chatEvents.events,
  start,
  send,
  end,
  typing,
  read,
  on: chatEvents.on,
  off: chatEvents.off,
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

if (store.get(TOKEN_KEY)) client.start(); // a conversation to bring back
