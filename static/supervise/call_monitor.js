/*
 * call_monitor.js: the supervisor's side of monitoring a call (consumers/call_monitor.py).
 *
 * The page keeps one WebRTC leg to the call for as long as it monitors it. The leg has one audio transceiver,
 * sendrecv from the start, whose sender has no track while the supervisor only listens: the microphone is asked
 * for the first time the supervisor will be heard (Whisper, Barge, Take over) and put on the same sender with
 * replaceTrack; back to Listen, the track is taken off and stopped (the microphone's light goes out). So a
 * change of mode is one message to the server and never a renegotiation: the server re-points who hears whom
 * and the leg stays as it is. What the page hears plays through an Audio element; a small meter shows it.
 */
(function () {
  'use strict';

  const root = document.getElementById('cm-root');
  if (!root) return;
  const ICE_GATHERING_WAIT_MS = 2000;
  const HEARD = { listen: false, whisper: true, barge: true, takeover: true };
  const LABELS = { '': 'Not monitoring', listen: 'Listening', whisper: 'Whispering to the agent', barge: 'Barging in',
    takeover: 'Serving the call' };
  const STATES = { ivr: 'In the IVR', queued: 'Waiting', ringing: 'Ringing', active: 'In progress', ended: 'Ended' };
  let socket = null;
  let nextId = 1;
  const pending = new Map();
  let rtcConfiguration = { iceServers: [] };
  let pc = null;
  let sender = null;
  let microphone = null;
  let audio = null;
  let call = null;
  let busy = false;
  let meter = null;

  function field(name) { return root.querySelectorAll(`[data-field="${name}"]`); }
  function setText(name, text) { for (const node of field(name)) node.textContent = text; }

  function notice(ok, message) {
    const item = document.createElement('div');
    item.className = `cm-notice ${ok ? 'is-done' : 'is-refused'}`;
    item.textContent = message;
    document.getElementById('cm-notices').append(item);
    setTimeout(() => item.remove(), ok ? 5000 : 10000);
  }

  function request(action, fields = {}) {
    return new Promise((resolve) => {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        resolve({ ok: false, message: 'not connected to the server' });
        return;
      }
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, action, ...fields }));
    });
  }

  async function useMicrophone(on) {
    if (!sender) return;
    if (on && !microphone) {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      [microphone] = stream.getAudioTracks();
      await sender.replaceTrack(microphone);
    } else if (!on && microphone) {
      await sender.replaceTrack(null);
      microphone.stop();
      microphone = null;
    }
  }

  function gathered(connection) {
    if (connection.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ICE_GATHERING_WAIT_MS);
      connection.addEventListener('icegatheringstatechange', () => {
        if (connection.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
      });
    });
  }

  async function connect(mode) {
    pc = new RTCPeerConnection(rtcConfiguration);
    sender = pc.addTransceiver('audio', { direction: 'sendrecv' }).sender;
    pc.ontrack = (event) => {
      if (!audio) audio = new Audio();
      audio.autoplay = true;
      audio.srcObject = new MediaStream([event.track]);
      audio.play().catch(() => {});
      startMeter(event.track);
    };
    pc.onconnectionstatechange = () => draw();
    if (HEARD[mode]) await useMicrophone(true);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const reply = await request('start', { mode: mode === 'takeover' ? 'listen' : mode, sdp: pc.localDescription.sdp });
    if (!reply.ok) {
      hangUpLeg();
      return reply;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.data.sdp });
    return reply;
  }

  function hangUpLeg() {
    if (microphone) microphone.stop();
    microphone = null;
    if (pc) pc.close();
    pc = null;
    sender = null;
    if (audio) audio.srcObject = null;
    stopMeter();
  }

  async function choose(mode) {
    if (busy) return;
    busy = true;
    draw();
    let reply;
    try {
      if (!pc) {
        reply = await connect(mode);
        if (reply.ok && mode === 'takeover') reply = await request('takeOver');
      } else if (mode === 'takeover') {
        await useMicrophone(true);
        reply = await request('takeOver');
      } else {
        if (HEARD[mode]) await useMicrophone(true);
        reply = await request('mode', { mode });
        if (reply.ok && !HEARD[mode]) await useMicrophone(false);
      }
    } catch (error) {
      reply = { ok: false, message: error && error.message ? error.message : String(error) };
    }
    busy = false;
    if (reply.ok && reply.data && reply.data.call) show(reply.data.call);
    if (!reply.ok) notice(false, reply.message);
    draw();
  }

  async function simple(action) {
    if (busy) return;
    busy = true;
    const reply = await request(action);
    busy = false;
    if (reply.ok) {
      hangUpLeg();
      notice(true, action === 'stop' ? 'You stopped monitoring this call.' : 'You hung up: the call has ended.');
    } else {
      notice(false, reply.message);
    }
    draw();
  }

  function show(view) {
    call = view;
    root.dataset.state = view.state;
    root.dataset.mode = view.mode;
    if (view.state === 'ended' || !view.mode) hangUpLeg();
    draw();
  }

  function draw() {
    if (!call) return;
    const mode = call.mode;
    const ended = call.state === 'ended';
    setText('customer', call.customer);
    setText('agent', call.takenOverBy ? `${call.takenOverBy} (supervisor)` : (call.agent || '—'));
    setText('agentTitle', call.takenOverBy ? 'Served by' : 'Agent');
    for (const node of root.querySelectorAll('[data-initial]')) {
      const name = node.dataset.initial === 'customer' ? call.customer : (call.takenOverBy || call.agent);
      node.textContent = (name || '–').slice(0, 1).toUpperCase();
    }
    setText('typeLabel', call.typeLabel);
    setText('skillGroup', call.skillGroup || '—');
    let state = STATES[call.state] || call.state;
    if (call.onHold && !ended) state = 'On hold';
    if (pc && !ended && mode && pc.connectionState !== 'connected') state += ' · connecting audio…';
    setText('stateLabel', state);
    for (const node of field('duration')) node.dataset.accepted = call.acceptedAt || '';
    setText('modeLabel', ended ? (mode ? LABELS[mode] : 'Call ended') : LABELS[mode] || LABELS['']);
    const others = call.monitors.filter((entry) => entry.mode !== mode || !mode);
    const othersNote = root.querySelector('[data-field="others"]');
    othersNote.hidden = !call.monitors.length || ended;
    othersNote.textContent = call.monitors.map((entry) => `${entry.supervisor}: ${LABELS[entry.mode].toLowerCase()}`)
      .join(' · ');
    othersNote.hidden = others.length === 0 && call.monitors.length <= 1;
    for (const button of root.querySelectorAll('[data-mode]')) {
      if (!button.matches('button')) continue;
      button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
      button.disabled = busy || ended || mode === 'takeover' || Boolean(call.takenOverBy && !mode);
    }
    const takeOver = root.querySelector('[data-action="takeOver"]');
    takeOver.disabled = busy || ended || Boolean(call.takenOverBy) || !call.agent;
    takeOver.hidden = mode === 'takeover';
    const stop = root.querySelector('[data-action="stop"]');
    stop.disabled = busy || ended || !mode;
    stop.hidden = mode === 'takeover';
    const end = root.querySelector('[data-action="end"]');
    end.hidden = mode !== 'takeover';
    end.disabled = busy || ended;
    root.dataset.mode = mode;
    root.dataset.leg = pc ? pc.connectionState : 'none';
  }

  function tick() {
    for (const node of field('duration')) {
      const since = Number(node.dataset.accepted);
      if (!since || (call && call.state === 'ended')) { if (!since) node.textContent = '—'; continue; }
      const seconds = Math.max(0, Math.round((Date.now() - since) / 1000));
      node.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
    }
  }
  setInterval(tick, 1000);

  function startMeter(track) {
    stopMeter();
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const bar = root.querySelector('[data-meter]');
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
      bar.style.width = `${Math.min(100, Math.round(peak * 140))}%`;
    }, 100);
    meter = { context, timer, bar };
  }

  function stopMeter() {
    if (!meter) return;
    clearInterval(meter.timer);
    meter.context.close();
    meter.bar.style.width = '0';
    meter = null;
  }

  function connection(state, words) {
    root.dataset.connection = state;
    root.querySelector('[data-connection]').textContent = words;
  }

  function open() {
    const url = new URL(root.dataset.ws, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url);
    let started = false;
    socket.addEventListener('message', (event) => {
      const frame = JSON.parse(event.data);
      if ('reply' in frame) {
        const resolve = pending.get(frame.reply);
        pending.delete(frame.reply);
        if (resolve) resolve(frame);
      } else if (frame.event === 'welcome') {
        rtcConfiguration = { iceServers: [], ...(frame.data.rtcConfiguration || {}) };
      } else if (frame.event === 'call') {
        show(frame.data);
        connection('live', frame.data.state === 'ended' ? 'The call has ended' : 'Live');
        if (!started && root.dataset.start && frame.data.state === 'active' && !frame.data.mode) choose(root.dataset.start);
        started = true;
      } else if (frame.event === 'refused') {
        notice(false, frame.data.message);
      }
    });
    socket.addEventListener('close', (event) => {
      socket = null;
      hangUpLeg();
      for (const resolve of pending.values()) resolve({ ok: false, message: 'the connection to the server closed' });
      pending.clear();
      if (event.code === 4003) connection('refused', 'Not monitoring: see above.');
      else connection('lost', 'Connection lost: reload the page to monitor again.');
    });
  }

  root.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button || button.disabled) return;
    if (button.dataset.mode) choose(button.dataset.mode);
    else if (button.dataset.action === 'takeOver') choose('takeover');
    else if (button.dataset.action === 'stop') simple('stop');
    else if (button.dataset.action === 'end') simple('end');
  });
  window.addEventListener('pagehide', () => { if (socket) socket.close(); });
  open();
}());
