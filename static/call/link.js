/*
 * link.js: one call's websocket to `/ws/call/` (the call widget's transport; call.js drives it). Frames as in
 * sessions_app/domain/web_call.py: requests with ids and their replies, the call's events. A socket carries one
 * call and is never reopened into it: the server ends a call whose socket closes.
 */

// The visitor id the server gave this browser (the chat widget keeps the same one), by which it counts the
// visitor's chats and calls.
const VISITOR_KEY = `tccc-visitor:${SDK_APP_ID}`;
const visitorIds = {
  get() { try { return localStorage.getItem(VISITOR_KEY) || ''; } catch (err) { return ''; } },
  set(value) { try { localStorage.setItem(VISITOR_KEY, value); } catch (err) { /* a new one next time */ } },
};

function socketUrl() {
  const query = new URLSearchParams({ sdkAppId: SDK_APP_ID });
  if (visitorIds.get()) query.set('visitorId', visitorIds.get());
  return `${SERVER.replace(/^http/, 'ws')}/ws/call/?${query}`;
}

/**
 * Open a call's socket. `link.ready` resolves once the server's welcome arrives (or says why not, within 10 s),
 * with the welcome's `rtcConfiguration` (the STUN and TURN servers for this call) as its data when it has one;
 * `onEvent(name, data)` hears the call's events and `onLost(reason)` a socket that closed after its welcome.
 */
function openLink(onEvent, onLost) {
  const pending = new Map(); // id → {resolve, timer}
  let nextId = 1;
  let ws = null;
  let welcomed = false;
  let closed = false;
  let readyResolve;
  const ready = new Promise((resolve) => { readyResolve = resolve; });
  const readyTimer = setTimeout(() => {
    settleReady(failure(`no answer from the call server ${SERVER} within 10 s`));
    close();
  }, REQUEST_TIMEOUT_MS);

  function settleReady(result) {
    clearTimeout(readyTimer);
    if (readyResolve) readyResolve(result);
    readyResolve = null;
  }

  function settle(id, result) {
    const entry = pending.get(id);
    if (!entry) return;
    pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve(result);
  }

  function request(action, fields) {
    return new Promise((resolve) => {
      if (closed || !welcomed || ws.readyState !== WebSocket.OPEN) {
        resolve(failure('not connected to the call server'));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => settle(id, failure('no answer from the server within 10 s')), REQUEST_TIMEOUT_MS);
      pending.set(id, { resolve, timer });
      try {
        ws.send(JSON.stringify({ id, action, ...fields }));
      } catch (err) {
        settle(id, failure('the connection to the call server was lost'));
      }
    });
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
      if (typeof frame.visitorId === 'string') visitorIds.set(frame.visitorId);
      settleReady(ok(frame.rtcConfiguration));
    } else if (frame.type === 'reply') {
      const result = frame.status === 'success' ? ok(frame.data)
        : failure(typeof frame.errorMsg === 'string' && frame.errorMsg ? frame.errorMsg : 'the server answered with an error');
      settle(frame.id, result);
    } else if (frame.type === 'event' && typeof frame.event === 'string') {
      onEvent(frame.event, frame.data);
    } else if (frame.type === 'refused') {
      settleReady(failure(`calls are not available: ${frame.errorMsg || 'the server refused the connection'}`));
    }
  }

  /** Close from this side: nothing more is heard, and whatever waits for an answer is told why. */
  function close() {
    if (closed) return;
    closed = true;
    settleReady(failure('the call was hung up'));
    for (const id of [...pending.keys()]) settle(id, failure('the call was hung up'));
    try { ws.close(1000); } catch (err) { /* already closing */ }
  }

  try {
    ws = new WebSocket(socketUrl());
  } catch (err) {
    closed = true;
    settleReady(failure(`cannot open a connection to the call server ${SERVER}`));
    return { ready, request, close };
  }
  ws.onmessage = (message) => { if (!closed) receive(message.data); };
  ws.onclose = (event) => {
    if (closed) return;
    closed = true;
    const wasWelcomed = welcomed;
    if (event.code === CLOSE_REFUSED) {
      settleReady(failure(`calls are not available: ${event.reason || 'the server refused the connection'}`));
    } else {
      // A handshake refused for the page's origin (HTTP 403) looks like this too: browsers do not say why.
      settleReady(failure(`cannot connect to the call server ${SERVER}`));
    }
    for (const id of [...pending.keys()]) settle(id, failure('the connection to the call server was lost before it answered'));
    if (wasWelcomed) onLost('the connection to the call server was lost');
  };
  return { ready, request, close };
}
