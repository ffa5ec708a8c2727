/*
 * rpc.js: the websocket request/reply client under the SDK (sdk/transport.js), the chat widget (widget/chat.js)
 * and each web call (call/link.js). Bundled into each script by views/scripts.py.
 *
 * It waits for the server's `welcome` frame before sending anything, numbers requests and matches their replies,
 * and after a lost connection reconnects with backoff, unless the channel says to stop. Every promise it returns
 * resolves `{status: 'success', data}` or `{status: 'error', errorMsg}` and never rejects; a request resolves with
 * an error if no answer comes within REQUEST_TIMEOUT_MS of the call, even while disconnected.
 */

const REQUEST_TIMEOUT_MS = 10000;
const RECONNECT_FIRST_DELAY_MS = 500;
const RECONNECT_MAX_DELAY_MS = 10000;
const CLOSE_REFUSED = 4003;

function ok(data) {
  return data === undefined || data === null ? { status: 'success' } : { status: 'success', data };
}

function failure(errorMsg) {
  return { status: 'error', errorMsg };
}

function replyResult(frame) {
  if (frame.status === 'success') return ok(frame.data);
  const errorMsg = typeof frame.errorMsg === 'string' && frame.errorMsg ? frame.errorMsg : 'the server answered with an error';
  return failure(errorMsg);
}

/**
 * What differs between the channels is in `channel`:
 *   label: the prefix of console messages ('tccc', 'tcccChat'...);
 *   url(): the address of the next connection;
 *   maxFrameBytes: the largest request the server reads (0: no limit here);
 *   lostReply: what a request sent but unanswered resolves with when the socket closes;
 *   keepWhenLost(fields): true if such a request is safe to send again after a reconnect (default: none is);
 *   onWelcome(frame): after the welcome, once the queued requests are sent;
 *   onEvent(name, data): an `event` frame (data as sent, maybe missing);
 *   onFrame(frame): any other frame type (refused, tokenExpired...);
 *   onClose(close): the socket closed (close is null when it could not even be opened): '' to reconnect with
 *     backoff, or the reason to stop for;
 *   onState(state, detail): 'connecting' | 'connected' | 'reconnecting' | 'stopped' (detail: the reason).
 * Returns { start(), request(fields) → Promise, stop(reason), stoppedReason() }. A request opens the connection
 * if it is not open yet; once stopped, the client is finished and every request resolves with the reason.
 */
function createRpcClient(channel) {
  const hook = (name) => channel[name] || (() => '');
  const onWelcome = hook('onWelcome');
  const onEvent = hook('onEvent');
  const onFrame = hook('onFrame');
  const onClose = hook('onClose');
  const onState = hook('onState');
  const keepWhenLost = hook('keepWhenLost');
  const pending = new Map(); // id → { text, fields, sent, resolve, timer }; Map order keeps requests in call order
  let nextId = 1;
  let socket = null;
  let welcomed = false;
  let attempt = 0;
  let reconnectTimer = null;
  let stopped = ''; // once set, the client is finished

  function request(fields) {
    return new Promise((resolve) => {
      if (stopped) {
        resolve(failure(stopped));
        return;
      }
      const id = nextId++;
      let text;
      try {
        text = JSON.stringify({ id, ...fields });
      } catch (err) {
        resolve(failure(`the options cannot be sent: ${err && err.message ? err.message : err}`));
        return;
      }
      if (channel.maxFrameBytes && new TextEncoder().encode(text).length > channel.maxFrameBytes) {
        resolve(failure(`the request is larger than ${channel.maxFrameBytes / 1024} KiB`));
        return;
      }
      const timer = setTimeout(() => {
        settle(id, failure(`no answer from the server within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      pending.set(id, { text, fields, sent: false, resolve, timer });
      start();
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

  function start() {
    if (stopped || socket || reconnectTimer) return;
    // Back on the network: skip the rest of the backoff.
    window.addEventListener('online', reconnectNow);
    connect();
  }

  function connect() {
    reconnectTimer = null;
    if (stopped) return;
    onState(attempt > 0 ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(channel.url());
    } catch (err) {
      console.error(`${channel.label}: cannot open the websocket`, err);
      closed(null);
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
      console.error(`${channel.label}: the server sent a frame that is not JSON`);
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    if (frame.type === 'welcome') {
      welcomed = true;
      attempt = 0;
      onState('connected');
      flush();
      onWelcome(frame);
    } else if (frame.type === 'reply') {
      if (pending.has(frame.id)) {
        settle(frame.id, replyResult(frame));
      } else if (frame.id === null || frame.id === undefined) {
        console.error(`${channel.label}: the server could not read a request:`, frame.errorMsg);
      } // else: a late reply to a request that already timed out
    } else if (frame.type === 'event') {
      if (typeof frame.event === 'string' && frame.event) onEvent(frame.event, frame.data);
    } else {
      onFrame(frame); // a frame type newer than this script is the channel's to ignore
    }
  }

  function closed(close) {
    socket = null;
    welcomed = false;
    for (const [id, entry] of pending) {
      if (!entry.sent) continue;
      // The server may or may not have acted on it; saying so beats doing it twice, unless doing it twice is harmless.
      if (keepWhenLost(entry.fields)) entry.sent = false;
      else settle(id, failure(channel.lostReply));
    }
    if (stopped) return;
    const reason = onClose(close);
    if (stopped) return;
    if (reason) stop(reason);
    else scheduleReconnect();
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    onState('reconnecting');
    const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_FIRST_DELAY_MS * 2 ** attempt);
    attempt = Math.min(attempt + 1, 16);
    // ±20 % jitter so that many clients dropped by one server restart do not all come back in the same instant.
    const delay = Math.min(RECONNECT_MAX_DELAY_MS, base * (0.8 + Math.random() * 0.4));
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!reconnectTimer) return;
    clearTimeout(reconnectTimer);
    connect();
  }

  function stop(reason) {
    if (stopped) return;
    stopped = reason;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    window.removeEventListener('online', reconnectNow);
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
    for (const id of [...pending.keys()]) settle(id, failure(reason));
    onState('stopped', reason);
  }

  return { start, request, stop, stoppedReason: () => stopped };
}
