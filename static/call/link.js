/*
 * link.js: one call's websocket to `/ws/call/` (the call widget's transport; call.js drives it), on the shared
 * client (common/rpc.js). Frames as in sessions_app/domain/web_call.py: requests with ids and their replies, the
 * call's events. A socket carries one call and is never reopened into it: the server ends a call whose socket
 * closes, so a close stops the client instead of reconnecting.
 */

const visitorIds = visitorIdStore(SDK_APP_ID); // the chat widget keeps the same one

/**
 * Open a call's socket. `link.ready` resolves once the server's welcome arrives (or says why not, within 10 s),
 * with the welcome's `rtcConfiguration` (the STUN and TURN servers for this call) as its data when it has one;
 * `onEvent(name, data)` hears the call's events and `onLost(reason)` a socket that closed after its welcome.
 */
function openLink(onEvent, onLost) {
  const lostReply = 'the connection to the call server was lost before it answered';
  let welcomed = false;
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

  const client = createRpcClient({
    label: 'tcccCall',
    url() {
      const query = new URLSearchParams({ sdkAppId: SDK_APP_ID });
      if (visitorIds.get()) query.set('visitorId', visitorIds.get());
      return `${SERVER.replace(/^http/, 'ws')}/ws/call/?${query}`;
    },
    lostReply,
    onWelcome(frame) {
      welcomed = true;
      if (typeof frame.visitorId === 'string') visitorIds.set(frame.visitorId);
      settleReady(ok(frame.rtcConfiguration));
    },
    onEvent,
    onFrame(frame) {
      if (frame.type === 'refused') {
        settleReady(failure(`calls are not available: ${frame.errorMsg || 'the server refused the connection'}`));
      }
    },
    onClose(close) {
      if (!close) {
        settleReady(failure(`cannot open a connection to the call server ${SERVER}`));
      } else if (close.code === CLOSE_REFUSED) {
        settleReady(failure(`calls are not available: ${close.reason || 'the server refused the connection'}`));
      } else {
        // A handshake refused for the page's origin (HTTP 403) looks like this too: browsers do not say why.
        settleReady(failure(`cannot connect to the call server ${SERVER}`));
      }
      if (welcomed) onLost('the connection to the call server was lost');
      return lostReply;
    },
  });

  /** A request once the call is connected; before the welcome or after a close there is no one to ask. */
  function request(action, fields) {
    if (!welcomed || client.stoppedReason()) return Promise.resolve(failure('not connected to the call server'));
    return client.request({ action, ...fields });
  }

  /** Close from this side: nothing more is heard, and whatever waits for an answer is told why. */
  function close() {
    settleReady(failure('the call was hung up'));
    client.stop('the call was hung up');
  }

  client.start();
  return { ready, request, close };
}
