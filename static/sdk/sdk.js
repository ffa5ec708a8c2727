/*
 * sdk.js: wires the parts together, exposes `window.tccc` and opens the connection.
 *
 * Runs last, inside the IIFE the server wraps around these files, after `PROTOCOL` (method and event names
 * from sessions_app/domain/protocol.py) and `SCRIPT` (this <script> element) are defined.
 */

// Fired on window by each SDK instance as it starts, so that an earlier instance on the same page (the host
// loads the script again, e.g. with a fresh token after tokenExpired) closes its socket and removes its UI.
const SDK_LOADED_EVENT = 'tccc-sdk-loaded';

// Events after which an offer no longer rings for this agent.
const OFFER_ENDING_EVENTS = ['userAccessed', 'autoTransfer', 'sessionEnded', 'sessionCompleted'];
// Events after which this agent's media leg for the session is of no more use (`transfer`: handed on).
const MEDIA_ENDING_EVENTS = ['autoTransfer', 'sessionEnded', 'transfer'];

function readScriptConfig(script) {
  if (!script) {
    return { error: 'document.currentScript is missing: load the SDK with a classic <script src> tag' };
  }
  const { token, sdkAppId, userid, ui } = script.dataset;
  if (!token || !sdkAppId || !userid) {
    return { error: 'the SDK <script> tag needs data-token, data-sdk-app-id and data-userid' };
  }
  try {
    sdkSocketUrl(script.src, {}); // fails early on a src that is not http(s)
  } catch (err) {
    return { error: err.message };
  }
  // data-ui="none": no floating button or panel (the standalone workbench page, which is the panel itself).
  return { src: script.src, token, sdkAppId, userId: userid, drawUi: ui !== 'none' };
}

function startSdk() {
  window.dispatchEvent(new CustomEvent(SDK_LOADED_EVENT));

  const config = readScriptConfig(SCRIPT);
  const emitter = createEmitter(PROTOCOL.events);
  // The offers ringing now, by sessionId. Its keys are the "announced" set: an offer listed in a welcome fires
  // `callIn` only if it is not here, so a reconnect does not announce an offer twice.
  const ringing = new Map();
  let readyFired = false;

  const transport = createTransport({
    urlFor: (resumeToken) => sdkSocketUrl(config.src, resumeToken
      ? { resume: resumeToken }
      : { token: config.token, sdkAppId: config.sdkAppId, userId: config.userId }),
    onWelcome: welcome,
    onRtcConfiguration: (configuration) => media.configure(configuration),
    onEvent: (name, data) => emitter.emit(name, data),
    onTokenExpired: () => {
      media.closeAll(); // a login that is over keeps no microphone or camera
      emitter.emit('tokenExpired', {});
    },
    onStateChange: (state, detail) => ui.setConnection(state, detail),
  });

  const rpc = buildRpcNamespaces(PROTOCOL.methods, transport.request);
  const media = createAgentMedia(transport.request, PROTOCOL.mediaTypes);
  const ui = createWorkbenchUI({ origin: config.src ? new URL(config.src).origin : '', enabled: config.drawUi !== false });

  // Keep the badge of ringing offers in step with what the host does.
  for (const namespace of ['Call', 'Chat', 'Video']) {
    runAfterEachCall(rpc[namespace], 'accept', (result, options) => {
      if (result.status === 'success' && options) stopRinging(options.sessionId);
    });
  }

  followMediaControls(rpc, media);

  emitter.observe((name, data) => {
    if (name === 'callIn' && data && typeof data.sessionId === 'string') {
      ringing.set(data.sessionId, data);
      ui.setOffers([...ringing.values()]);
      media.connect(data.sessionId, data.type);
    } else if (OFFER_ENDING_EVENTS.includes(name) && data) {
      stopRinging(data.sessionId);
    }
    if (MEDIA_ENDING_EVENTS.includes(name) && data) media.close(data.sessionId, false);
  });

  function welcome(frame) {
    ui.setResumeToken(frame.resumeToken);
    media.configure(frame.rtcConfiguration);
    const listed = (Array.isArray(frame.sessions) ? frame.sessions : [])
      .filter((offer) => offer && typeof offer.sessionId === 'string');
    const listedIds = new Set(listed.map((offer) => offer.sessionId));
    // An offer missing from the welcome stopped ringing while the SDK was away (its event was missed).
    for (const sessionId of [...ringing.keys()]) if (!listedIds.has(sessionId)) ringing.delete(sessionId);
    ui.setOffers([...ringing.values()]);
    if (!readyFired) {
      readyFired = true;
      emitter.emit('ready', {});
    }
    for (const offer of listed) {
      if (!ringing.has(offer.sessionId)) emitter.emit('callIn', offer);
    }
    // Calls in progress (a reload mid-call): their legs connect again; the customer's side is not touched.
    for (const call of Array.isArray(frame.calls) ? frame.calls : []) media.connect(call.sessionId, call.type);
  }

  function stopRinging(sessionId) {
    if (ringing.delete(sessionId)) ui.setOffers([...ringing.values()]);
  }

  window.addEventListener(SDK_LOADED_EVENT, () => {
    transport.shutdown('the SDK was loaded again on this page; this copy is closed');
    media.closeAll();
    ui.unmount();
  }, { once: true });

  window.tccc = {
    Call: rpc.Call,
    Chat: rpc.Chat,
    Video: rpc.Video,
    Agent: rpc.Agent,
    Devices: createDevices(),
    UI: ui.api,
    events: eventNameMap(PROTOCOL.events),
    on: emitter.on,
    off: emitter.off,
  };

  if (config.error) {
    console.error(`tccc: ${config.error}`);
    transport.shutdown(`the SDK is not configured: ${config.error}`);
  } else {
    transport.start();
  }
}

/** The browser's side of the call controls: the server bridges and enforces; the page stops its own devices. */
function followMediaControls(rpc, media) {
  const succeeded = (then) => (result, options) => {
    if (result.status === 'success' && options) then(options.sessionId, result);
  };
  runAfterEachCall(rpc.Call, 'startInternalCall', (result) => {
    if (result.status === 'success' && result.data) media.connect(result.data.sessionId, 'internal');
  });
  runAfterEachCall(rpc.Call, 'startOutboundCall', (result) => {
    if (result.status === 'success' && result.data) media.connect(result.data.sessionId, 'phone');
  });
  runAfterEachCall(rpc.Call, 'hungUp', succeeded((sessionId) => media.close(sessionId, false)));
  runAfterEachCall(rpc.Video, 'end', succeeded((sessionId) => media.close(sessionId, false)));
  for (const namespace of [rpc.Call, rpc.Video]) {
    runAfterEachCall(namespace, 'muteMic', succeeded((sessionId) => media.setMicrophone(sessionId, true)));
    runAfterEachCall(namespace, 'unmuteMic', succeeded((sessionId) => media.setMicrophone(sessionId, false)));
  }
  runAfterEachCall(rpc.Video, 'muteVideo', succeeded((sessionId) => media.setCamera(sessionId, true)));
  runAfterEachCall(rpc.Video, 'unmuteVideo', succeeded((sessionId) => media.setCamera(sessionId, false)));
}

/** Wraps namespace[name] so that `then(result, options)` runs after each call; the result is unchanged. */
function runAfterEachCall(namespace, name, then) {
  const call = namespace[name];
  if (!call) return;
  namespace[name] = (options) => call(options).then((result) => {
    try {
      then(result, options);
    } catch (err) {
      console.error('tccc:', err);
    }
    return result;
  });
}

startSdk();
