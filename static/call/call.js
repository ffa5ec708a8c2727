/*
 * call.js: the embeddable web audio/video call widget's API and each call's life (start, events, end); link.js is
 * its websocket, media.js its microphone, camera and peer connection, ui.js its panel. `/widget/call.js` serves
 * the four as one script (views/widget.py), inside a function that defines SCRIPT = document.currentScript.
 * A company's page loads it with one tag:
 *
 *   <script src="https://center.example.com/widget/call.js" data-sdk-app-id="1400000001" crossorigin="anonymous"></script>
 *
 * It exposes `window.tcccCall`: startAudio, startVideo, hangUp, mute, isMuted, on, off, call, remoteStream,
 * localStream, open, close (README, "Web audio and video calls"; docs/web-calls.md). `data-headless="true"`
 * draws nothing: the page builds its own UI on the API, and the remote audio plays from a hidden <audio>.
 *
 * Each call opens its own websocket to `/ws/call/` on the server that served the script (the frames are
 * described in sessions_app/domain/web_call.py) and sends one non-trickle WebRTC offer; the server answers
 * it and bridges this leg to the agent's. A call lives as long as its socket, so a lost socket ends the call:
 * there is no resuming. Every Promise resolves `{status: 'success', data}` or `{status: 'error', errorMsg}`;
 * none rejects or hangs.
 */

const SDK_APP_ID = SCRIPT.dataset.sdkAppId || '';
const HEADLESS = SCRIPT.dataset.headless === 'true';
const TITLE = SCRIPT.dataset.title || 'Call us';
const POSITION = SCRIPT.dataset.position === 'left' ? 'left' : 'right';
const SERVER = new URL(SCRIPT.src, location.href).origin;
const PERMISSION_TIMEOUT_MS = 60000; // a person may read the browser's prompt before answering it
const ICE_GATHERING_MS = 2000;
// CALL_PROTOCOL (events, startFields, maxSdp) is the server's declaration (domain/web_call.py).
const MAX_SDP = CALL_PROTOCOL.maxSdp;
// The server's end statuses (domain/end_status.py) a customer can meet, as the customer is told them.
const END_REASONS = {
  noSeatOnline: 'nobody is available to take calls right now',
  notWorkTime: 'we are closed right now',
  seatOffline: "the agent's connection was lost",
  mediaError: 'the audio connection failed',
};

const callEvents = createWidgetEvents(CALL_PROTOCOL.events, 'tcccCall');
const emit = callEvents.emit;

/* The call as this page knows it. */

const state = {
  // The current or last call: {sessionId, kind, type, state: connecting | waiting | ringing | connected | ended,
  // agentNickname, muted, startedAt, connectedAt, endedAt, closeBy, endStatus, reason}; times in ms.
  call: null,
  askingPermission: false, // the browser is asking the customer for the microphone (and camera)
};
let render = () => {};
let attempt = null; // the current call's internals: {call, link, finished, resolveFinished}

function callActive() {
  return Boolean(state.call && state.call.state !== 'ended');
}

function endReason(closeBy, endStatus) {
  if (END_REASONS[endStatus]) return END_REASONS[endStatus];
  if (endStatus === 'waitingGiveUp' && closeBy !== 'client') return 'nobody could answer in time';
  if (closeBy === 'client') return 'you hung up';
  if (closeBy === 'seat') return 'the agent hung up';
  if (closeBy === 'admin') return 'the call was ended by our service';
  return 'the call ended';
}

/** What the server records when the customer hangs up (services/sessions.py does the same). */
function customerEnding(call) {
  let endStatus = 'waitingGiveUp';
  if (call.connectedAt) endStatus = 'ok';
  else if (call.state === 'ringing') endStatus = 'ringingGiveUp';
  return { closeBy: 'client', endStatus, reason: endReason('client', endStatus) };
}

/* A call's life: start, events, and one way to end. */

/**
 * End the call once: release the media, tell the server (`hangUp`) when `tellServer` and a session exists,
 * close the socket, fire `ended` (only for a call the server knew: one with a sessionId).
 */
function finish(current, ending, tellServer) {
  const call = current.call;
  if (call.state === 'ended') return Promise.resolve(failure(call.reason));
  Object.assign(call, { state: 'ended', endedAt: Date.now(), closeBy: ending.closeBy || '', endStatus: ending.endStatus || '',
    reason: ending.reason || endReason(ending.closeBy, ending.endStatus) });
  state.askingPermission = false;
  if (attempt === current) releaseMedia();
  const link = current.link;
  let told = Promise.resolve(ok());
  if (link && tellServer && call.sessionId) {
    // Closing the socket alone would end it too; the hangUp first makes the end prompt and says who ended it.
    told = link.request('hangUp', {}).then((result) => {
      link.close();
      return result;
    });
  } else if (link) {
    link.close();
  }
  current.resolveFinished(failure(call.reason));
  if (call.sessionId) {
    emit('ended', { sessionId: call.sessionId, closeBy: call.closeBy, endStatus: call.endStatus, reason: call.reason });
  }
  render();
  return told;
}

function onCallEvent(current, name, data) {
  const call = current.call;
  if (call.state === 'ended' || !data || typeof data !== 'object') return;
  // One call per socket; an event may still come before start's reply has told us the session's id.
  if (call.sessionId && data.sessionId !== call.sessionId) return;
  if (!call.sessionId && typeof data.sessionId === 'string') call.sessionId = data.sessionId;
  switch (name) {
    case 'queued': // back in the queue: the agent did not answer in time, or transferred it to a group
      call.state = 'waiting';
      break;
    case 'ringing':
      call.state = 'ringing';
      break;
    case 'accepted':
      Object.assign(call, { state: 'connected', agentNickname: data.agentNickname || '' });
      if (!call.connectedAt) call.connectedAt = Date.now();
      break;
    case 'ended':
      finish(current, { closeBy: data.closeBy, endStatus: data.endStatus }, false);
      return;
    default:
      return; // an event newer than this widget
  }
  emit(name, data);
  render();
}

/** The rest of a step, unless the call ends first (hung up, lost): then why it ended. */
function unlessEnded(current, step) {
  return Promise.race([step, current.finished]);
}

function unsupported(kind) {
  if (!SDK_APP_ID) return 'the script tag has no data-sdk-app-id';
  if (typeof RTCPeerConnection !== 'function') return 'this browser cannot make calls (WebRTC is not available)';
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return window.isSecureContext ? `this browser gives no access to a ${devices(kind)}`
      : 'calls need a secure page (https): the browser gives no microphone to this one';
  }
  return '';
}

/** A start refused because routing ended the session at once names its end status last: say it in words. */
function startRefusal(errorMsg) {
  const status = /(\w+)$/.exec(errorMsg);
  if (status && END_REASONS[status[1]]) return END_REASONS[status[1]];
  if (status && status[1] === 'waitingGiveUp') return endReason('admin', 'waitingGiveUp');
  return errorMsg;
}

async function startCall(kind, options) {
  if (callActive()) return failure('a call is already in progress: hang up before starting another');
  const why = unsupported(kind);
  if (why) return failure(why);
  const o = options && typeof options === 'object' ? options : {};
  const fields = {};
  for (const name of CALL_PROTOCOL.startFields) {
    if (o[name] !== undefined && o[name] !== null && o[name] !== '') fields[name] = String(o[name]);
  }

  const call = { sessionId: null, kind, type: kind === 'video' ? 'video' : 'voip', state: 'connecting', agentNickname: '',
    muted: false, startedAt: Date.now(), connectedAt: null, endedAt: null, closeBy: '', endStatus: '', reason: '' };
  const current = { call, link: null, finished: null, resolveFinished: null };
  current.finished = new Promise((resolve) => { current.resolveFinished = resolve; });
  if (attempt) releaseMedia(); // the last call's elements, if anything was left
  attempt = current;
  state.call = call;
  render();
  const fail = (reason) => finish(current, { closeBy: 'client', endStatus: call.sessionId ? 'mediaError' : '', reason }, true)
    .then(() => failure(reason));

  // The socket opens while the browser asks for the microphone.
  current.link = openLink((name, data) => onCallEvent(current, name, data),
    (reason) => finish(current, { closeBy: 'client', endStatus: 'mediaError', reason }, false));
  const captured = await unlessEnded(current, captureMedia(current));
  if (call.state === 'ended') return failure(call.reason);
  if (captured.status !== 'success') return fail(captured.errorMsg);
  const connected = await unlessEnded(current, current.link.ready);
  if (call.state === 'ended') return failure(call.reason);
  if (connected.status !== 'success') return fail(connected.errorMsg);
  const offer = await unlessEnded(current, makeOffer(current, connected.data));
  if (call.state === 'ended') return failure(call.reason);
  if (offer.status !== 'success') return fail(offer.errorMsg);

  const started = await unlessEnded(current, current.link.request('start', { kind, sdp: offer.data, ...fields }));
  if (call.state === 'ended') return failure(call.reason);
  if (started.status !== 'success') return fail(startRefusal(started.errorMsg));
  const data = started.data || {};
  call.sessionId = data.sessionId || call.sessionId;
  if (data.type) call.type = data.type;
  if (call.state === 'connecting') call.state = 'waiting';
  const answered = await unlessEnded(current, takeAnswer(data.sdp));
  if (call.state === 'ended') return failure(call.reason);
  if (answered.status !== 'success') return fail(answered.errorMsg);
  render();
  return ok({ sessionId: call.sessionId, type: call.type });
}

/* The API. */

async function hangUp() {
  if (!callActive()) return failure('there is no call to hang up');
  const current = attempt;
  await finish(current, customerEnding(current.call), true);
  return ok();
}

async function mute(muted = true) {
  if (!callActive()) return failure('there is no call');
  state.call.muted = Boolean(muted);
  applyMute();
  render();
  return ok({ muted: state.call.muted });
}

const api = {
  events: callEvents.events,
  startAudio: (options) => startCall('audio', options),
  startVideo: (options) => startCall('video', options),
  hangUp,
  mute,
  isMuted() {
    return Boolean(callActive() && state.call.muted);
  },
  on: callEvents.on,
  off: callEvents.off,
  call() {
    return state.call ? { ...state.call } : null;
  },
  remoteStream() {
    return media.remote;
  },
  localStream() {
    return media.local;
  },
  open() {},
  close() {},
};
window.tcccCall = api;
