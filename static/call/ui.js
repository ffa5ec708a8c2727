/*
 * ui.js: the call widget's panel (unless the script tag says data-headless="true"): a launcher button
 * bottom-right (bottom-left with data-position="left") and a panel to place an audio or a video call, then
 * follow it: a status line (connecting, waiting with queue music, ringing an agent, connected with a timer,
 * ended and why), Mute and Hang up, and for video the agent's picture with a small self-view.
 *
 * Its look is the chat widget's: both are drawn as common/panel.js mounts the widgets, in an open shadow root.
 * Names from anyone are set with textContent only.
 */

const PHONE_ICON = ['M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 19.79 19.79 0 0 1-3.07-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72 12.84 12.84 0 0 0 .7 2.81 2 2 0 0 1-.45 2.11L8.09 9.91a16 16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45 12.84 12.84 0 0 0 2.81.7A2 2 0 0 1 22 16.92z'];
const VIDEO_ICON = ['M23 7l-7 5 7 5V7z', 'M3 5h11a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z'];
const MIC_ICON = ['M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z', 'M19 10v2a7 7 0 0 1-14 0v-2', 'M12 19v4', 'M8 23h8'];
const MIC_OFF_ICON = ['M1 1l22 22', 'M9 9v3a3 3 0 0 0 5.12 2.12M15 9.34V4a3 3 0 0 0-5.94-.6',
  'M17 16.95A7 7 0 0 1 5 12v-2m14 0v2a7 7 0 0 1-.11 1.23', 'M12 19v4', 'M8 23h8'];
const CLOSE_ICON = ['M18 6L6 18', 'M6 6l12 12'];
const DOWN_ICON = ['M6 9l6 6 6-6'];

const CALL_STYLE = `
.w { --live: #12a150; --live-hover: #0e8a44; --hang-up: #d92d20; --hang-up-hover: #b42318; --stage: #101828; }
button, input { font: inherit; color: inherit; }
button:disabled { cursor: default; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.launcher svg { width: 25px; height: 25px; }
.launcher.live { background: var(--live); }
.launcher.live:hover { background: var(--live-hover); }
.launcher.live::after {
content: ""; position: absolute; inset: 0; border-radius: 50%; border: 2px solid var(--live);
animation: ring 1.8s ease-out infinite; pointer-events: none;
}
@keyframes ring { from { transform: scale(1); opacity: .7; } to { transform: scale(1.55); opacity: 0; } }
.panel { width: 360px; }
.left .launcher, .left .panel { right: auto; left: 24px; }
.avatar svg { width: 18px; height: 18px; }
.subtitle { margin: 1px 0 0; font-size: 12.5px; opacity: .88; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.icon-button {
flex: none; height: 32px; min-width: 32px; padding: 0 8px; border: 0; border-radius: 8px;
background: rgba(255, 255, 255, .16); color: var(--on-accent); display: flex; align-items: center; justify-content: center;
}
.icon-button svg { width: 18px; height: 18px; }
.body { overflow-y: auto; padding: 20px; background: var(--muted-bg); }
.start { display: flex; flex-direction: column; gap: 12px; }
.start h2 { margin: 0; font-size: 18px; }
.start p { margin: 0; color: var(--text-muted); }
.start label { display: flex; flex-direction: column; gap: 6px; font-size: 13px; font-weight: 600; }
.start input {
height: 40px; padding: 0 12px; border: 1px solid var(--border); border-radius: 10px; background: #fff; font-weight: 400;
}
.choices { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-top: 4px; }
.choice {
height: 44px; padding: 0 14px; border-radius: 10px; font-weight: 650; display: flex; align-items: center;
justify-content: center; gap: 8px; border: 1px solid var(--accent); transition: background-color .15s;
}
.choice svg { width: 18px; height: 18px; }
.choice.audio { background: var(--accent); color: var(--on-accent); }
.choice.audio:hover { background: var(--accent-hover); border-color: var(--accent-hover); }
.choice.video { background: #fff; color: var(--accent); }
.choice.video:hover { background: #eef3fe; }
.summary {
display: flex; flex-direction: column; gap: 2px; padding: 10px 12px; border-radius: 10px; background: #fff;
border: 1px solid var(--border);
}
.summary strong { font-size: 13.5px; }
.summary span { color: var(--text-muted); font-size: 12.5px; }
.summary.failed { background: var(--danger-soft); border-color: #f7c9cc; color: var(--danger); }
.summary.failed span { color: var(--danger); }
.hint { color: var(--text-muted); font-size: 12px; }
.live-view { display: flex; flex-direction: column; align-items: center; gap: 14px; text-align: center; }
.orb { position: relative; width: 96px; height: 96px; margin: 6px 0 2px; }
.orb .face {
position: relative; z-index: 1; width: 96px; height: 96px; border-radius: 50%; background: var(--accent);
color: var(--on-accent); display: flex; align-items: center; justify-content: center; font-size: 38px; font-weight: 650;
}
.orb .face svg { width: 38px; height: 38px; }
.orb.connected .face { background: var(--live); }
.orb::before, .orb::after {
content: ""; position: absolute; inset: 0; border-radius: 50%; background: var(--accent); opacity: 0;
}
.orb.waiting::before, .orb.waiting::after { animation: pulse 2.4s ease-out infinite; }
.orb.waiting::after { animation-delay: 1.2s; }
@keyframes pulse { from { transform: scale(1); opacity: .28; } to { transform: scale(1.6); opacity: 0; } }
.stage {
position: relative; width: 100%; aspect-ratio: 4 / 3; border-radius: 12px; overflow: hidden; background: var(--stage);
}
.stage video { display: block; width: 100%; height: 100%; object-fit: cover; background: var(--stage); }
.stage .remote { position: absolute; inset: 0; }
.stage .self {
position: absolute; right: 10px; bottom: 10px; width: 30%; height: auto; aspect-ratio: 4 / 3; border-radius: 8px;
border: 2px solid rgba(255, 255, 255, .85); box-shadow: 0 4px 14px rgba(0, 0, 0, .35); transform: scaleX(-1);
}
.stage .veil {
position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center;
gap: 12px; padding-bottom: 16%; background: var(--stage); color: #98a2b3; font-size: 12.5px;
}
.stage .veil .orb { width: 64px; height: 64px; margin: 0; }
.stage .veil .orb .face { width: 64px; height: 64px; font-size: 26px; }
.stage .veil .orb .face svg { width: 26px; height: 26px; }
.status { margin: 0; font-size: 16px; font-weight: 650; overflow-wrap: anywhere; }
.detail { margin: -8px 0 0; color: var(--text-muted); font-size: 13px; font-variant-numeric: tabular-nums; }
.controls { display: flex; justify-content: center; gap: 28px; margin-top: 2px; }
.control { display: flex; flex-direction: column; align-items: center; gap: 6px; font-size: 12px; color: var(--text-muted); }
.round {
width: 56px; height: 56px; border-radius: 50%; border: 1px solid var(--border); background: #fff; color: var(--text);
display: flex; align-items: center; justify-content: center; transition: background-color .15s, transform .15s;
}
.round:hover { background: #eef1f5; }
.round:active { transform: scale(.96); }
.round svg { width: 22px; height: 22px; }
.round[aria-pressed="true"] { background: var(--text); border-color: var(--text); color: #fff; }
.round.hang-up { background: var(--hang-up); border-color: var(--hang-up); color: #fff; }
.round.hang-up:hover { background: var(--hang-up-hover); }
.round.hang-up svg { transform: rotate(135deg); }
.notice { margin: 12px 0 0; padding: 8px 12px; border-radius: 10px; background: var(--danger-soft); color: var(--danger); font-size: 13px; }
`;

function drawCall(root) {
  function mediaElement(tag, attrs) {
    const node = el(tag, attrs);
    node.autoplay = true;
    if (tag === 'video') {
      node.muted = true; // the call's sound plays from the <audio> alone
      node.playsInline = true;
    }
    return node;
  }

  const launcher = el('button', { class: 'launcher', type: 'button', 'data-launcher': '' });
  const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
  const subtitle = el('p', { class: 'subtitle' });
  const minimise = el('button', { class: 'icon-button', type: 'button', 'aria-label': 'Minimise', onclick: () => setOpen(false) },
    [icon(DOWN_ICON)]);

  const summary = el('div', { class: 'summary', role: 'status', 'data-summary': '' }, [el('strong'), el('span')]);
  const nameInput = el('input', { type: 'text', maxlength: '128', autocomplete: 'name', placeholder: 'Optional' });
  const audioButton = el('button', { class: 'choice audio', type: 'button', 'data-start': 'audio', onclick: () => onStart('audio') },
    [icon(PHONE_ICON), el('span', { text: 'Audio call' })]);
  const videoButton = el('button', { class: 'choice video', type: 'button', 'data-start': 'video', onclick: () => onStart('video') },
    [icon(VIDEO_ICON), el('span', { text: 'Video call' })]);
  const startView = el('div', { class: 'start' }, [
    summary,
    el('h2', { text: 'Talk to us' }),
    el('p', { text: 'Call our team right from your browser. The next free agent will answer.' }),
    el('label', {}, [document.createTextNode('Your name'), nameInput]),
    el('div', { class: 'choices' }, [audioButton, videoButton]),
    el('p', { class: 'hint', text: 'Your browser will ask to use your microphone, and your camera for a video call.' }),
  ]);

  const orbFace = el('div', { class: 'face', 'aria-hidden': 'true' });
  const orb = el('div', { class: 'orb' }, [orbFace]);
  const remoteVideo = mediaElement('video', { class: 'remote', 'data-remote-video': '' });
  const selfVideo = mediaElement('video', { class: 'self', 'data-local-video': '', 'aria-label': 'You' });
  const veilFace = el('div', { class: 'face', 'aria-hidden': 'true' });
  const veilOrb = el('div', { class: 'orb' }, [veilFace]);
  const veilText = el('span');
  const veil = el('div', { class: 'veil' }, [veilOrb, veilText]);
  const stage = el('div', { class: 'stage' }, [remoteVideo, veil, selfVideo]);
  const status = el('p', { class: 'status', role: 'status', 'aria-live': 'polite', 'data-status': '' });
  const detail = el('p', { class: 'detail', 'data-detail': '' });
  const muteButton = el('button', { class: 'round', type: 'button', 'aria-pressed': 'false', 'data-mute': '', onclick: onMute });
  const muteLabel = el('span');
  const hangUpButton = el('button', { class: 'round hang-up', type: 'button', 'aria-label': 'Hang up', 'data-hang-up': '', onclick: onHangUp },
    [icon(PHONE_ICON)]);
  const liveView = el('div', { class: 'live-view' }, [
    orb, stage, status, detail,
    el('div', { class: 'controls' }, [
      el('div', { class: 'control' }, [muteButton, muteLabel]),
      el('div', { class: 'control' }, [hangUpButton, el('span', { text: 'Hang up' })]),
    ]),
  ]);
  const notice = el('div', { class: 'notice', role: 'alert', 'data-notice': '' });
  const panel = el('section', { class: 'panel', role: 'dialog', 'aria-label': TITLE, 'data-panel': '' }, [
    el('header', { class: 'head' }, [avatar, el('div', { class: 'who' }, [el('p', { class: 'title', text: TITLE }), subtitle]), minimise]),
    el('div', { class: 'body' }, [startView, liveView, notice]),
  ]);
  const audio = mediaElement('audio', { 'data-remote-audio': '' });
  root.appendChild(el('div', { class: `w${POSITION === 'left' ? ' left' : ''}` }, [launcher, panel, audio]));
  Object.assign(sinks, { audio, remoteVideo, localVideo: selfVideo });

  let open = false;
  let noticeText = '';
  let noticeTimer = null;
  let clock = null;
  launcher.addEventListener('click', () => setOpen(!open));

  function setOpen(value) {
    open = value;
    render();
    if (open) (callActive() ? hangUpButton : audioButton).focus();
  }

  function showNotice(text) {
    noticeText = text.charAt(0).toUpperCase() + text.slice(1);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { noticeText = ''; render(); }, 8000);
    render();
  }

  async function onStart(kind) {
    noticeText = '';
    const options = { nickname: nameInput.value.trim() || undefined };
    const result = await (kind === 'video' ? api.startVideo(options) : api.startAudio(options));
    // A call that failed to start says why in its summary; anything else (a second start) in a notice.
    if (result.status !== 'success' && !(state.call && state.call.reason)) showNotice(result.errorMsg);
  }

  async function onMute() {
    await api.mute(!api.isMuted());
  }

  async function onHangUp() {
    hangUpButton.disabled = true;
    await api.hangUp();
    hangUpButton.disabled = false;
  }

  api.open = () => setOpen(true);
  api.close = () => setOpen(false);

  function duration(from, to) {
    const seconds = Math.max(0, Math.floor((to - from) / 1000));
    const two = (n) => String(n).padStart(2, '0');
    const h = Math.floor(seconds / 3600);
    return h ? `${h}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}` : `${two(Math.floor(seconds / 60))}:${two(seconds % 60)}`;
  }

  function statusText(call) {
    if (call.state === 'connecting') return state.askingPermission ? 'Allow your microphone' : 'Connecting…';
    if (call.state === 'waiting') return 'Waiting for an agent';
    if (call.state === 'ringing') return 'Ringing an agent…';
    if (call.state === 'connected') return `Connected with ${call.agentNickname || 'an agent'}`;
    return `Call ended: ${call.reason}`;
  }

  function detailText(call) {
    if (call.state === 'connecting' && state.askingPermission) {
      return call.kind === 'video' ? 'Your browser asks to use your microphone and camera.' : 'Your browser asks to use your microphone.';
    }
    if (call.state === 'waiting') return 'Please hold: you will hear music until an agent answers.';
    if (call.state === 'ringing') return 'An agent is about to answer.';
    if (call.state === 'connected') return duration(call.connectedAt, Date.now());
    return '';
  }

  function initial(call) {
    return call.state === 'connected' && call.agentNickname ? call.agentNickname.trim().charAt(0).toUpperCase() : '';
  }

  function face(node, call, iconPaths) {
    const letter = initial(call);
    if (node.dataset.letter === letter && node.firstChild) return;
    node.dataset.letter = letter;
    if (letter) node.textContent = letter;
    else node.replaceChildren(icon(iconPaths));
  }

  function renderSummary(call) {
    const ended = Boolean(call && call.state === 'ended');
    summary.hidden = !ended;
    if (!ended) return;
    const reason = call.reason || 'the call ended';
    const failed = !call.sessionId || call.endStatus === 'mediaError';
    summary.className = `summary${failed ? ' failed' : ''}`;
    if (!call.sessionId) {
      summary.firstChild.textContent = 'The call could not start';
      summary.lastChild.textContent = reason.charAt(0).toUpperCase() + reason.slice(1);
    } else {
      summary.firstChild.textContent = `Call ended: ${reason}`;
      summary.lastChild.textContent = call.connectedAt ? `Lasted ${duration(call.connectedAt, call.endedAt)}` : '';
    }
    summary.lastChild.hidden = !summary.lastChild.textContent;
  }

  let renderedKey = '';
  render = () => {
    const call = state.call;
    const live = callActive();
    const video = Boolean(live && call.kind === 'video');
    const connected = Boolean(live && call.state === 'connected');

    const launcherKey = `${open}:${live}`;
    if (launcherKey !== renderedKey) {
      renderedKey = launcherKey;
      launcher.replaceChildren(icon(open ? CLOSE_ICON : PHONE_ICON));
      launcher.className = `launcher${live ? ' live' : ''}`;
      launcher.setAttribute('aria-label', open ? 'Close the call panel' : (live ? 'Show the call' : 'Call us'));
    }
    panel.hidden = !open;
    subtitle.textContent = live ? (connected ? `${call.agentNickname || 'Agent'} · ${duration(call.connectedAt, Date.now())}` : 'Call in progress')
      : 'Audio or video, in your browser';
    face(avatar, call || {}, PHONE_ICON);

    startView.hidden = live;
    liveView.hidden = !live;
    renderSummary(call);
    audioButton.disabled = live;
    videoButton.disabled = live;
    if (live) {
      orb.hidden = video;
      stage.hidden = !video;
      orb.className = `orb ${connected ? 'connected' : 'waiting'}`;
      face(orbFace, call, PHONE_ICON);
      veilOrb.className = 'orb waiting';
      face(veilFace, call, VIDEO_ICON);
      // The agent's picture shows once they answer; before that the server sends black, which the veil covers.
      veil.hidden = connected;
      veilText.textContent = call.state === 'connecting' ? 'Setting up your camera…' : 'The agent will appear here';
      status.textContent = statusText(call);
      detail.textContent = detailText(call);
      detail.hidden = !detail.textContent;
      const muted = api.isMuted();
      muteButton.setAttribute('aria-pressed', String(muted));
      muteButton.setAttribute('aria-label', muted ? 'Unmute the microphone' : 'Mute the microphone');
      if (muteButton.dataset.muted !== String(muted)) {
        muteButton.dataset.muted = String(muted);
        muteButton.replaceChildren(icon(muted ? MIC_OFF_ICON : MIC_ICON));
      }
      muteLabel.textContent = muted ? 'Unmute' : 'Mute';
    }
    notice.hidden = !noticeText;
    notice.textContent = noticeText;

    // The timer ticks while connected, and not a moment longer.
    if (connected && !clock) clock = setInterval(() => render(), 1000);
    if (!connected && clock) {
      clearInterval(clock);
      clock = null;
    }
  };

  // A call's ending opens the panel, so the customer sees why it ended even while it was minimised.
  api.on('ended', () => { if (!open) setOpen(true); });
  render();
}

mountWidget('tccc-call-root', CALL_STYLE, HEADLESS, drawCall);
