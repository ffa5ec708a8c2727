/*
 * transport.js: the SDK's one websocket (docs/wire-protocol.md).
 *
 * It connects, waits for the `welcome` frame before sending anything, numbers requests and matches their replies,
 * and reconnects with the resume token. The promises it returns always resolve, with the shape of a
 * CommonSDKResponse, and never reject. A request resolves with an error if no answer comes within
 * REQUEST_TIMEOUT_MS of the call, even while the SDK is disconnected.
 */

const REQUEST_TIMEOUT_MS = 10000;
const RECONNECT_FIRST_DELAY_MS = 500;
const RECONNECT_MAX_DELAY_MS = 10000;
const MAX_FRAME_BYTES = 64 * 1024;
const CLOSE_TOKEN_EXPIRED = 4001;
const CLOSE_REFUSED = 4003;

/** The websocket URL on the server that served the script: same host, ws:// or wss:// to match http(s). */
function sdkSocketUrl(scriptSrc, query) {
  const origin = new URL(scriptSrc).origin;
  if (!/^https?:\/\//.test(origin)) {
    throw new Error(`cannot derive a websocket address from ${scriptSrc}`);
  }
  const search = Object.keys(query)
    .map((name) => `${encodeURIComponent(name)}=${encodeURIComponent(query[name])}`)
    .join('&');
  return `${origin.replace(/^http/, 'ws')}/ws/sdk/?${search}`;
}

function requestFailure(errorMsg) {
  return { status: 'error', errorMsg };
}

function replyResult(frame) {
  if (frame.status === 'success') {
    return frame.data === undefined ? { status: 'success' } : { status: 'success', data: frame.data };
  }
  const errorMsg = typeof frame.errorMsg === 'string' && frame.errorMsg ? frame.errorMsg : 'the server answered with an error';
  return requestFailure(errorMsg);
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * hooks: urlFor(resumeToken) → websocket URL (resumeToken is '' until the first welcome);
 * onWelcome(frame); onRtcConfiguration(configuration) (fresh TURN credentials); onEvent(name, data);
 * onTokenExpired(); onStateChange(state, detail) with state one of
 * 'connecting' | 'connected' | 'reconnecting' | 'stopped'.
 * Returns { start(), request(method, params) → Promise, shutdown(reason) }.
 */
function createTransport(hooks) {
  const pending = new Map(); // id → { text, sent, resolve, timer }; Map order keeps requests in call order
  let nextId = 1;
  let socket = null;
  let welcomed = false;
  let resumeToken = '';
  let attempt = 0;
  let reconnectTimer = null;
  let stoppedReason = ''; // once set, the transport is finished: token expired, refused, replaced, misconfigured

  function request(method, params) {
    return new Promise((resolve) => {
      if (stoppedReason) {
        resolve(requestFailure(stoppedReason));
        return;
      }
      const id = nextId++;
      let text;
      try {
        text = JSON.stringify({ id, method, params: params || {} });
      } catch (err) {
        resolve(requestFailure(`the options cannot be sent: ${err && err.message ? err.message : err}`));
        return;
      }
      if (utf8Length(text) > MAX_FRAME_BYTES) {
        resolve(requestFailure('the request is larger than 64 KiB'));
        return;
      }
      const timer = setTimeout(() => {
        settle(id, requestFailure(`no answer from the server within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(id, { text, sent: false, resolve, timer });
      flush();
    });
  }

  function settle(id, result) {
    const entry = pending.get(id);
    if (!entry) return; // already answered, timed out or failed
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
        return; // the socket is closing; its close handler reconnects and the rest is sent then
      }
    }
  }

  function connect() {
    reconnectTimer = null;
    if (stoppedReason) return;
    hooks.onStateChange(resumeToken || attempt > 0 ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(hooks.urlFor(resumeToken));
    } catch (err) {
      console.error('tccc: cannot open the websocket', err);
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onmessage = (message) => {
      if (socket === ws) receive(message.data);
    };
    ws.onclose = (close) => {
      if (socket === ws) closed(close);
    };
    // An error is always followed by a close event, which is where reconnecting happens.
  }

  function receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      console.error('tccc: the server sent a frame that is not JSON');
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    switch (frame.type) {
      case 'welcome':
        welcomed = true;
        attempt = 0;
        if (typeof frame.resumeToken === 'string' && frame.resumeToken) resumeToken = frame.resumeToken;
        hooks.onStateChange('connected');
        flush();
        hooks.onWelcome(frame);
        break;
      case 'reply':
        if (pending.has(frame.id)) {
          settle(frame.id, replyResult(frame));
        } else if (frame.id === null || frame.id === undefined) {
          console.error('tccc: the server could not read a request:', frame.errorMsg);
        } // else: a late reply to a request that already timed out
        break;
      case 'event':
        if (typeof frame.event === 'string' && frame.event) {
          hooks.onEvent(frame.event, frame.data === undefined || frame.data === null ? {} : frame.data);
        }
        break;
      case 'rtcConfiguration':
        hooks.onRtcConfiguration(frame.rtcConfiguration);
        break;
      case 'tokenExpired':
        expire(frame.errorMsg);
        break;
      case 'refused':
        refuse(frame.errorMsg);
        break;
      default:
        break; // a frame type newer than this SDK
    }
  }

  function closed(close) {
    socket = null;
    welcomed = false;
    for (const [id, entry] of pending) {
      // The server may or may not have acted on these; saying so beats resending an accept twice.
      if (entry.sent) settle(id, requestFailure('the connection to the server was lost before it answered'));
    }
    if (stoppedReason) return;
    if (close.code === CLOSE_TOKEN_EXPIRED) {
      expire();
    } else if (close.code === CLOSE_REFUSED) {
      refuse(close.reason);
    } else {
      scheduleReconnect();
    }
  }

  function scheduleReconnect() {
    if (stoppedReason || reconnectTimer) return;
    hooks.onStateChange('reconnecting');
    const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    // ±20 % jitter so that many agents dropped by one server restart do not all come back in the same instant.
    const delay = Math.min(RECONNECT_MAX_DELAY_MS, base * (0.8 + Math.random() * 0.4));
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!reconnectTimer) return;
    clearTimeout(reconnectTimer);
    connect();
  }

  /** The login is over: its token expired, or the server ended it (signed out, forced offline, deactivated). */
  function expire(errorMsg) {
    if (stoppedReason) return;
    stop(typeof errorMsg === 'string' && errorMsg ? errorMsg : 'the login token has expired');
    hooks.onTokenExpired();
  }

  function refuse(errorMsg) {
    if (stoppedReason) return;
    const reason = `the server refused the connection: ${errorMsg || 'no reason given'}`;
    console.error(`tccc: ${reason}`);
    stop(reason);
  }

  function stop(reason) {
    stoppedReason = reason;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (typeof window !== 'undefined') window.removeEventListener('online', reconnectNow);
    const ws = socket;
    socket = null;
    welcomed = false;
    if (ws) {
      try {
        ws.close(1000);
      } catch (err) {
        // already closing
      }
    }
    for (const id of [...pending.keys()]) settle(id, requestFailure(reason));
    hooks.onStateChange('stopped', reason);
  }

  function start() {
    if (stoppedReason || socket || reconnectTimer) return;
    // Back on the network: skip the rest of the backoff.
    window.addEventListener('online', reconnectNow);
    connect();
  }

  function shutdown(reason) {
    if (!stoppedReason) stop(reason);
  }

  return { start, request, shutdown };
}
