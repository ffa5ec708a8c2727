/*
 * media.js: the agent's WebRTC legs to the server's media bridge, one per voip, video or internal session.
 *
 * A leg connects while the session rings (on `callIn`, or when this agent places an internal call), so that
 * accepting only tells the server to bridge: the customer hears the agent at once. The server is a B2BUA; it
 * decides who hears whom (bridge, hold, transfer) and enforces mute, so this file only captures, plays and
 * follows the session's end. Signalling goes over the SDK's socket as `Media.connect` {sessionId, sdp} →
 * {sdp} (non-trickle: the offer carries every ICE candidate) and `Media.disconnect`. The STUN and TURN servers
 * (and whether to relay only) come from the server in each welcome (`configure`), never from this file.
 *
 * Remote audio plays through an Audio element; a video session also gets a small floating window (its own
 * shadow root, so the host page's CSS cannot reach it) with the customer's video and a self-view.
 */

const ICE_GATHERING_WAIT_MS = 2000;

function createAgentMedia(request, mediaTypes) {
  const legs = new Map(); // sessionId → { pc, local, audio, type, muted }
  const videoWindow = createVideoWindow();
  let rtcConfiguration = { iceServers: [] };

  /** The welcome's `rtcConfiguration` {iceServers, iceTransportPolicy}, for the legs connected from now on. */
  function configure(configuration) {
    rtcConfiguration = { iceServers: [], ...(configuration && typeof configuration === 'object' ? configuration : {}) };
  }

  async function connect(sessionId, type) {
    if (!mediaTypes.includes(type) || legs.has(sessionId) || !window.RTCPeerConnection) return;
    const leg = { pc: null, local: null, audio: null, video: null, type, closed: false };
    legs.set(sessionId, leg);
    try {
      leg.local = await capture(type === 'video');
      if (leg.closed) return stopTracks(leg.local);
      const pc = new RTCPeerConnection(rtcConfiguration);
      leg.pc = pc;
      const [audioTrack] = leg.local.getAudioTracks();
      pc.addTransceiver(audioTrack || 'audio', { direction: 'sendrecv', streams: [leg.local] });
      if (type === 'video') {
        const [videoTrack] = leg.local.getVideoTracks();
        leg.video = pc.addTransceiver(videoTrack || 'video', { direction: 'sendrecv', streams: [leg.local] });
      }
      const remote = new MediaStream();
      pc.ontrack = (event) => {
        remote.addTrack(event.track);
        if (event.track.kind === 'audio') play(leg, remote);
        if (event.track.kind === 'video') videoWindow.show(sessionId, remote, leg.local);
      };
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      if (leg.closed) return;
      const reply = await request('Media.connect', { sessionId, sdp: pc.localDescription.sdp });
      if (leg.closed) return;
      if (reply.status !== 'success') throw new Error(reply.errorMsg);
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.data.sdp });
    } catch (err) {
      console.warn(`tccc: no media for session ${sessionId}: ${err && err.message ? err.message : err}`);
      close(sessionId, false);
    }
  }

  function close(sessionId, tellServer) {
    const leg = legs.get(sessionId);
    if (!leg) return;
    legs.delete(sessionId);
    leg.closed = true;
    stopTracks(leg.local);
    if (leg.pc) leg.pc.close();
    if (leg.audio) leg.audio.srcObject = null;
    videoWindow.hide(sessionId);
    if (tellServer) request('Media.disconnect', { sessionId });
  }

  function setMicrophone(sessionId, muted) {
    const leg = legs.get(sessionId);
    if (leg && leg.local) for (const track of leg.local.getAudioTracks()) track.enabled = !muted;
  }

  /** muteVideo stops the camera (its light goes off); unmuteVideo opens it again on the same sender. */
  async function setCamera(sessionId, off) {
    const leg = legs.get(sessionId);
    const sender = leg && leg.video && leg.video.sender;
    if (!sender) return;
    if (off) {
      if (sender.track) sender.track.stop();
      for (const track of leg.local.getVideoTracks()) leg.local.removeTrack(track);
      await sender.replaceTrack(null);
    } else {
      const camera = await capture(true, false).catch(() => null);
      const [track] = camera ? camera.getVideoTracks() : [];
      if (!track) return;
      leg.local.addTrack(track);
      await sender.replaceTrack(track);
    }
    videoWindow.refresh(sessionId, leg.local);
  }

  function play(leg, remote) {
    if (!leg.audio) leg.audio = new Audio();
    leg.audio.autoplay = true;
    leg.audio.srcObject = remote;
    const started = leg.audio.play();
    if (started && started.catch) started.catch(() => { /* autoplay refused: the next click plays it */ });
  }

  function closeAll() {
    for (const sessionId of [...legs.keys()]) close(sessionId, false);
  }

  return { configure, connect, close, setMicrophone, setCamera, closeAll, legs };
}

async function capture(video, audio = true) {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) throw new Error('this page cannot use the microphone (not a secure context?)');
  try {
    return await devices.getUserMedia({ audio, video });
  } catch (err) {
    if (video && audio) return devices.getUserMedia({ audio: true, video: false }); // no camera: audio only
    throw err;
  }
}

function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ICE_GATHERING_WAIT_MS);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** A floating window for video sessions: the customer large, the agent's self-view small. */
function createVideoWindow() {
  let host = null;
  let shownFor = '';
  let remoteVideo;
  let localVideo;

  function mount() {
    if (host) return;
    host = document.createElement('div');
    host.setAttribute('data-tccc-video', '');
    const root = host.attachShadow({ mode: 'closed' });
    root.innerHTML = `<style>
      :host { all: initial; position: fixed; left: 20px; bottom: 20px; z-index: 2147483000; }
      .box { position: relative; width: 320px; height: 240px; background: #0f172a; border-radius: 12px;
             overflow: hidden; box-shadow: 0 12px 32px rgba(15, 23, 42, .35); }
      .remote { width: 100%; height: 100%; object-fit: cover; }
      .local { position: absolute; right: 8px; bottom: 8px; width: 96px; height: 72px; object-fit: cover;
               border-radius: 8px; border: 2px solid rgba(255, 255, 255, .85); background: #1e293b; }
    </style><div class="box"><video class="remote" autoplay playsinline></video>
      <video class="local" autoplay playsinline muted></video></div>`;
    remoteVideo = root.querySelector('.remote');
    localVideo = root.querySelector('.local');
    document.documentElement.appendChild(host);
  }

  return {
    show(sessionId, remote, local) {
      mount();
      shownFor = sessionId;
      remoteVideo.srcObject = remote;
      localVideo.srcObject = local;
    },
    refresh(sessionId, local) {
      if (shownFor === sessionId && localVideo) localVideo.srcObject = local.getVideoTracks().length ? local : null;
    },
    hide(sessionId) {
      if (shownFor !== sessionId || !host) return;
      remoteVideo.srcObject = null;
      localVideo.srcObject = null;
      host.remove();
      host = null;
      shownFor = '';
    },
  };
}
