/*
 * transport.js: the SDK's one websocket (docs/wire-protocol.md), on the shared client (common/rpc.js).
 *
 * What is the SDK's own: requests are `{id, method, params}` of at most 64 KiB; the welcome's resume token
 * opens every later connection; the server ends a login with a `tokenExpired` frame or close code 4001, and
 * refuses one with a `refused` frame or close code 4003; fresh TURN credentials come as `rtcConfiguration`.
 */

const MAX_FRAME_BYTES = 64 * 1024;
const CLOSE_TOKEN_EXPIRED = 4001;

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

/**
 * hooks: urlFor(resumeToken) → websocket URL (resumeToken is '' until the first welcome);
 * onWelcome(frame); onRtcConfiguration(configuration) (fresh TURN credentials); onEvent(name, data);
 * onTokenExpired(); onStateChange(state, detail) with state one of
 * 'connecting' | 'connected' | 'reconnecting' | 'stopped'.
 * Returns { start(), request(method, params) → Promise, shutdown(reason) }.
 */
function createTransport(hooks) {
  let resumeToken = '';

  const client = createRpcClient({
    label: 'tccc',
    url: () => hooks.urlFor(resumeToken),
    maxFrameBytes: MAX_FRAME_BYTES,
    lostReply: 'the connection to the server was lost before it answered',
    onWelcome(frame) {
      if (typeof frame.resumeToken === 'string' && frame.resumeToken) resumeToken = frame.resumeToken;
      hooks.onWelcome(frame);
    },
    onEvent: (name, data) => hooks.onEvent(name, data === undefined || data === null ? {} : data),
    onFrame(frame) {
      if (frame.type === 'rtcConfiguration') hooks.onRtcConfiguration(frame.rtcConfiguration);
      else if (frame.type === 'tokenExpired') expire(frame.errorMsg);
      else if (frame.type === 'refused') refuse(frame.errorMsg);
    },
    onClose(close) {
      if (close && close.code === CLOSE_TOKEN_EXPIRED) expire();
      else if (close && close.code === CLOSE_REFUSED) refuse(close.reason);
      return ''; // anything else: reconnect
    },
    onState: (state, detail) => hooks.onStateChange(state, detail),
  });

  /** The login is over: its token expired, or the server ended it (signed out, forced offline, deactivated). */
  function expire(errorMsg) {
    if (client.stoppedReason()) return;
    client.stop(typeof errorMsg === 'string' && errorMsg ? errorMsg : 'the login token has expired');
    hooks.onTokenExpired();
  }

  function refuse(errorMsg) {
    if (client.stoppedReason()) return;
    const reason = `the server refused the connection: ${errorMsg || 'no reason given'}`;
    console.error(`tccc: ${reason}`);
    client.stop(reason);
  }

  return {
    start: client.start,
    request: (method, params) => client.request({ method, params: params || {} }),
    shutdown: client.stop,
  };
}
