/*
 * media.js: the call widget's media: the customer's microphone (and camera), the peer connection to the
 * server's bridge (one non-trickle offer), and the elements the remote side plays in (ui.js supplies them;
 * headless, a hidden <audio> on the page). call.js decides when; this file knows how.
 */

const media = { pc: null, local: null, remote: null, selfView: null }; // selfView: the camera alone, muted
// Where the media plays: ui.js puts its own elements here; headless, a hidden <audio> is added to the body.
const sinks = { audio: null, remoteVideo: null, localVideo: null };
let hiddenAudio = null;

function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

function devices(kind) {
  return kind === 'video' ? 'microphone and camera' : 'microphone';
}

function mediaErrorText(err, kind) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') return `the ${devices(kind)} ${kind === 'video' ? 'were' : 'was'} not allowed`;
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `no ${devices(kind)} found`;
  if (name === 'NotReadableError' || name === 'AbortError') return `the ${devices(kind)} could not be started (in use by another application?)`;
  return `the ${devices(kind)} could not be opened${err && err.message ? `: ${err.message}` : ''}`;
}

/** The customer's microphone (and camera): the browser may ask them first, so this waits up to 60 s. */
function userMedia(kind) {
  const constraints = {
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    video: kind === 'video' ? { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' } : false,
  };
  return new Promise((resolve) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      resolve(failure(`the ${devices(kind)} ${kind === 'video' ? 'were' : 'was'} not allowed within 60 s`));
    }, PERMISSION_TIMEOUT_MS);
    navigator.mediaDevices.getUserMedia(constraints).then((stream) => {
      clearTimeout(timer);
      if (late) stopTracks(stream);
      else resolve(ok(stream));
    }, (err) => {
      clearTimeout(timer);
      resolve(failure(mediaErrorText(err, kind)));
    });
  });
}

async function captureMedia(current) {
  state.askingPermission = true;
  render();
  const result = await userMedia(current.call.kind);
  state.askingPermission = false;
  if (result.status !== 'success') return result;
  if (attempt !== current || current.call.state === 'ended') {
    stopTracks(result.data); // hung up while the browser was asking
    return failure(current.call.reason || 'the call was hung up');
  }
  media.local = result.data;
  applyMute();
  showMedia();
  return ok();
}

/** Resolves when ICE gathering completes or after 2 s: the server takes no trickled candidates. */
function iceGathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') {
      resolve();
      return;
    }
    const timer = setTimeout(done, ICE_GATHERING_MS);
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * A peer connection sending the microphone (and camera) and receiving the same kinds; resolves its offer.
 * `rtcConfiguration` is the server's (its STUN and TURN servers, the transport policy), if it sent one.
 */
async function makeOffer(current, rtcConfiguration) {
  let pc;
  try {
    const given = rtcConfiguration && typeof rtcConfiguration === 'object' ? rtcConfiguration : {};
    pc = new RTCPeerConnection({ iceServers: [], ...given });
  } catch (err) {
    return failure('this browser cannot make calls (WebRTC is not available)');
  }
  media.pc = pc;
  media.remote = new MediaStream();
  pc.ontrack = (event) => {
    if (media.pc !== pc) return;
    media.remote.addTrack(event.track);
    showMedia();
  };
  pc.onconnectionstatechange = () => {
    if (media.pc === pc && pc.connectionState === 'failed') {
      finish(current, { closeBy: 'client', endStatus: 'mediaError', reason: 'the media connection to the server failed' }, true);
    }
  };
  try {
    const local = media.local;
    pc.addTransceiver(local.getAudioTracks()[0], { direction: 'sendrecv', streams: [local] });
    if (current.call.kind === 'video') {
      pc.addTransceiver(local.getVideoTracks()[0] || 'video', { direction: 'sendrecv', streams: [local] });
    }
    await pc.setLocalDescription(await pc.createOffer());
  } catch (err) {
    return failure(`the browser could not prepare the call: ${err && err.message ? err.message : err}`);
  }
  await iceGathered(pc);
  const sdp = pc.localDescription ? pc.localDescription.sdp : '';
  if (!sdp) return failure('the browser could not prepare the call');
  if (sdp.length > MAX_SDP) {
    return failure(`the browser's offer is larger than the server takes (${MAX_SDP / 1024} KiB)`);
  }
  return ok(sdp);
}

async function takeAnswer(sdp) {
  if (typeof sdp !== 'string' || !sdp.startsWith('v=0')) return failure('the server sent no usable answer');
  try {
    await media.pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (err) {
    return failure(`the server's answer was not accepted by the browser: ${err && err.message ? err.message : err}`);
  }
  return ok();
}

function applyMute() {
  const muted = Boolean(state.call && state.call.muted);
  if (media.local) for (const track of media.local.getAudioTracks()) track.enabled = !muted;
}

function audioSink() {
  if (sinks.audio) return sinks.audio;
  if (!hiddenAudio) {
    hiddenAudio = document.createElement('audio');
    hiddenAudio.autoplay = true;
    hiddenAudio.hidden = true;
    hiddenAudio.setAttribute('data-tccc-call-audio', '');
    document.body.appendChild(hiddenAudio);
  }
  return hiddenAudio;
}

function play(element, stream) {
  if (!element || element.srcObject === stream) return;
  element.srcObject = stream;
  const started = element.play();
  if (started && started.catch) {
    started.catch((err) => {
      // A page the customer never clicked may not start sound by itself (the browser's autoplay policy).
      if (err && err.name === 'NotAllowedError') console.warn('tcccCall: the browser did not let the call audio play', err);
    });
  }
}

/** Point the elements at the streams: the remote audio plays from the <audio>; <video>s are muted. */
function showMedia() {
  if (media.remote && media.remote.getAudioTracks().length) play(audioSink(), media.remote);
  if (media.remote && media.remote.getVideoTracks().length) play(sinks.remoteVideo, media.remote);
  if (media.local && media.local.getVideoTracks().length) {
    if (!media.selfView) media.selfView = new MediaStream(media.local.getVideoTracks());
    play(sinks.localVideo, media.selfView);
  }
}

function releaseMedia() {
  stopTracks(media.local);
  if (media.pc) {
    const pc = media.pc;
    media.pc = null;
    try { pc.close(); } catch (err) { /* already closed */ }
  }
  media.local = null;
  media.remote = null;
  media.selfView = null;
  for (const element of [sinks.audio, sinks.remoteVideo, sinks.localVideo, hiddenAudio]) {
    if (element) element.srcObject = null;
  }
  if (hiddenAudio) {
    hiddenAudio.remove();
    hiddenAudio = null;
  }
}
