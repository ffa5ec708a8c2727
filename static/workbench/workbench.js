/*
 * workbench.js: what the workbench's browser must do itself. Everything else is server-rendered HTML that
 * arrives over the websocket (htmx's ws extension swaps the fragments by id).
 *
 *  - the websocket address: `/ws/workbench/`, plus the SDK's resume token when embedded (from the URL fragment,
 *    refreshed by the SDK with postMessage after its reconnects);
 *  - the connection banner; timers (elements carry milliseconds relative to the moment the server rendered
 *    them, so a wrong clock on the agent's PC does not skew them);
 *  - the ring tone (WebAudio) and the browser's autoplay rules; microphone and speaker choice;
 *  - menus, tabs, keypads, the chat composer, toasts and keeping focus across swaps (keyboard use).
 */
(function () {
  'use strict';

  const root = document.getElementById('wb-root');
  if (!root) return;
  const embedded = root.hasAttribute('data-embed');
  const STORAGE = { microphone: 'tccc.workbench.microphone', speaker: 'tccc.workbench.speaker' };
  let socket = null; // htmx's socket wrapper, once open
  let uiHidden = false; // the SDK's tccc.UI.hide() on the host page: no ring tone then

  // ---- Websocket address -------------------------------------------------------------------------------

  let resumeToken = '';
  if (embedded) {
    resumeToken = new URLSearchParams(location.hash.slice(1)).get('resume') || '';
  }
  const wsPath = root.dataset.wsPath || '/ws/workbench/';
  if (!embedded || resumeToken) {
    root.setAttribute('ws-connect', wsPath);
  } else {
    showBanner('Open the workbench from the contact center button on your CRM page.', 'error', true);
  }
  if (window.htmx) {
    // The ws extension keeps the address it read first; build each (re)connection's address here instead,
    // so a reconnect uses the newest resume token the SDK handed over.
    htmx.createWebSocket = function () {
      const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + wsPath;
      const socketUrl = resumeToken ? `${base}?resume=${encodeURIComponent(resumeToken)}` : base;
      const ws = new WebSocket(socketUrl);
      ws.binaryType = htmx.config.wsBinaryType;
      return ws;
    };
  }

  function send(message) {
    if (socket) socket.send(JSON.stringify(message));
  }

  // ---- Connection banner ---------------------------------------------------------------------------------

  function banner() {
    return document.getElementById('wb-connection');
  }

  function showBanner(text, tone, final) {
    const element = banner();
    if (!element || (element.dataset.final === 'true' && !final)) return;
    element.textContent = text;
    element.className = `banner banner-${tone}`;
    element.hidden = false;
    if (final) element.dataset.final = 'true';
  }

  let connectingTimer = null;
  document.addEventListener('htmx:wsConnecting', () => {
    // Say so only if it takes a moment: a quick connect should not flash a banner.
    clearTimeout(connectingTimer);
    connectingTimer = setTimeout(() => showBanner('Connecting…', 'info'), 800);
  });
  document.addEventListener('htmx:wsOpen', (event) => {
    clearTimeout(connectingTimer);
    socket = event.detail.socketWrapper;
    const element = banner();
    if (element && element.dataset.final !== 'true') element.hidden = true;
    document.body.dataset.connected = 'true';
  });
  document.addEventListener('htmx:wsClose', (event) => {
    clearTimeout(connectingTimer);
    socket = null;
    document.body.dataset.connected = 'false';
    const code = event.detail.event && event.detail.event.code;
    if ([1006, 1011, 1012, 1013].includes(code)) {
      showBanner('Connection lost. Reconnecting…', 'warn');
    } else {
      showBanner('Disconnected from the contact center. Reload the page to connect again.', 'error');
    }
    stopRing();
  });

  // ---- After each server message: timers, ring, chat, focus ----------------------------------------------

  let focusedId = '';
  let chatWasAtBottom = true;
  document.addEventListener('htmx:wsBeforeMessage', () => {
    const active = document.activeElement;
    focusedId = active && active !== document.body && active.id ? active.id : '';
    const log = document.getElementById('wb-chat-log');
    chatWasAtBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  });
  document.addEventListener('htmx:wsAfterMessage', () => {
    if (focusedId && (!document.activeElement || document.activeElement === document.body)) {
      const again = document.getElementById(focusedId);
      if (again && !again.disabled) again.focus({ preventScroll: true });
    }
    afterSwap();
  });

  let transferWasOpen = false;

  function afterSwap() {
    const transfer = document.getElementById('wb-transfer');
    const transferOpen = Boolean(transfer && !transfer.hidden);
    if (transferOpen && !transferWasOpen) transfer.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    transferWasOpen = transferOpen;
    tick();
    updateRing();
    followChat();
    armToasts();
    armTyping();
  }

  // ---- Timers --------------------------------------------------------------------------------------------

  // Moments are the server's (static/pages/server_clock.js).
  const clock = window.serverClock.format;

  function tick() {
    const now = window.serverClock.now();
    for (const element of document.querySelectorAll('[data-since]')) {
      element.textContent = clock(now - Number(element.dataset.since));
    }
    for (const element of document.querySelectorAll('[data-until]')) {
      const left = Number(element.dataset.until) - now;
      element.textContent = element.dataset.format === 'seconds' ? `${Math.max(0, Math.ceil(left / 1000))} s` : clock(left + 999);
      element.classList.toggle('is-urgent', left < 4000);
    }
    for (const element of document.querySelectorAll('[data-bar-until]')) {
      const left = Number(element.dataset.barUntil) - now;
      const total = Number(element.dataset.total) || 1;
      element.style.width = `${Math.max(0, Math.min(100, (100 * left) / total))}%`;
    }
  }
  setInterval(tick, 1000);

  // ---- Ring tone and autoplay ------------------------------------------------------------------------------

  const ringAudio = document.querySelector('[data-ring-audio]');
  const soundButton = document.querySelector('[data-sound-button]');
  let audioContext = null;
  let ringGain = null;
  let ringTimer = null;

  function audio() {
    if (audioContext) return audioContext;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    audioContext = new Context();
    // The tone goes through an <audio> element so that the chosen speaker (setSinkId) plays it.
    const destination = audioContext.createMediaStreamDestination();
    ringGain = audioContext.createGain();
    ringGain.gain.value = 0;
    for (const frequency of [440, 480]) { // the classic two-tone ring
      const oscillator = audioContext.createOscillator();
      oscillator.frequency.value = frequency;
      oscillator.connect(ringGain);
      oscillator.start();
    }
    ringGain.connect(destination);
    ringAudio.srcObject = destination.stream;
    audioContext.onstatechange = soundState;
    return audioContext;
  }

  function soundState() {
    const blocked = !audioContext || audioContext.state !== 'running' || ringAudio.paused;
    document.body.dataset.sound = blocked ? 'blocked' : 'on';
    soundButton.hidden = !blocked;
    return !blocked;
  }

  function enableSound() {
    const context = audio();
    if (!context) return Promise.resolve(false);
    return Promise.all([context.resume(), ringAudio.play()]).then(soundState, soundState);
  }

  soundButton.addEventListener('click', () => {
    enableSound().then(updateRing);
  });

  function ringing() {
    const offers = document.getElementById('wb-offers');
    return Boolean(offers && Number(offers.dataset.ringing) > 0) && !uiHidden;
  }

  function updateRing() {
    if (ringing()) startRing();
    else stopRing();
  }

  function startRing() {
    document.body.dataset.ringing = 'true';
    if (ringTimer) return;
    enableSound(); // allowed if the page may autoplay; otherwise the "Enable sound" button shows
    const pulse = () => {
      if (!audioContext || !ringGain) return;
      const t = audioContext.currentTime;
      const gain = ringGain.gain;
      gain.cancelScheduledValues(t);
      for (const start of [0, 0.6]) { // ring-ring, then silence
        gain.setValueAtTime(0, t + start);
        gain.linearRampToValueAtTime(0.12, t + start + 0.02);
        gain.setValueAtTime(0.12, t + start + 0.4);
        gain.linearRampToValueAtTime(0, t + start + 0.42);
      }
    };
    pulse();
    ringTimer = setInterval(pulse, 3000);
  }

  function stopRing() {
    document.body.dataset.ringing = 'false';
    clearInterval(ringTimer);
    ringTimer = null;
    if (audioContext && ringGain) {
      ringGain.gain.cancelScheduledValues(audioContext.currentTime);
      ringGain.gain.setValueAtTime(0, audioContext.currentTime);
    }
  }

  function testSound() {
    enableSound().then(() => {
      if (!audioContext || !ringGain) return;
      const t = audioContext.currentTime;
      ringGain.gain.setValueAtTime(0.12, t);
      ringGain.gain.setValueAtTime(0, t + 0.5);
    });
  }

  // Try at once: with autoplay allowed the tone is ready; otherwise the button invites a click.
  document.addEventListener('DOMContentLoaded', () => {
    const context = audio();
    if (context) context.resume().then(() => ringAudio.play()).then(soundState, soundState);
    else soundButton.hidden = true;
    afterSwap();
  });

  // ---- Devices: microphone and speaker -------------------------------------------------------------------

  const media = navigator.mediaDevices;
  const note = document.querySelector('[data-devices-note]');
  let askedPermission = false;
  let effective = { audioinput: '', audiooutput: '' };

  function preferred(kind) {
    try {
      return JSON.parse(localStorage.getItem(kind === 'audioinput' ? STORAGE.microphone : STORAGE.speaker)) || null;
    } catch (err) {
      return null;
    }
  }

  function remember(kind, device) {
    const key = kind === 'audioinput' ? STORAGE.microphone : STORAGE.speaker;
    if (device) localStorage.setItem(key, JSON.stringify({ deviceId: device.deviceId, label: device.label }));
    else localStorage.removeItem(key);
  }

  async function listDevices(askPermission) {
    if (!media || !media.enumerateDevices) return [];
    let devices = await media.enumerateDevices();
    const unlabeled = devices.some((d) => d.kind === 'audioinput') && devices.every((d) => !d.label);
    if (unlabeled && askPermission && !askedPermission && media.getUserMedia) {
      askedPermission = true; // browsers hide device names until the page may use the microphone
      try {
        const stream = await media.getUserMedia({ audio: true });
        for (const track of stream.getTracks()) track.stop();
        devices = await media.enumerateDevices();
      } catch (err) {
        note.textContent = 'Allow the microphone to see your devices by name.';
      }
    }
    return devices.filter((d) => (d.kind === 'audioinput' || d.kind === 'audiooutput') && d.deviceId !== 'default'
      && d.deviceId !== 'communications');
  }

  async function refreshDevices(askPermission, announce) {
    const devices = await listDevices(askPermission);
    for (const select of document.querySelectorAll('[data-device-select]')) {
      const kind = select.dataset.deviceSelect;
      const choices = devices.filter((d) => d.kind === kind);
      const wanted = preferred(kind);
      const available = wanted && choices.find((d) => d.deviceId === wanted.deviceId);
      const next = available ? wanted.deviceId : '';
      const defaultLabel = kind === 'audioinput' ? 'Default microphone' : 'Default speaker';
      select.replaceChildren(new Option(defaultLabel, ''), ...choices.map((d, i) => new Option(
        d.label || `${kind === 'audioinput' ? 'Microphone' : 'Speaker'} ${i + 1}`, d.deviceId)));
      select.value = next;
      if (announce && wanted && !available && effective[kind] === wanted.deviceId) {
        note.textContent = `${wanted.label || 'The chosen device'} was disconnected: using the default ${
          kind === 'audioinput' ? 'microphone' : 'speaker'} until it is back.`;
      } else if (announce && available && effective[kind] !== next) {
        note.textContent = `${wanted.label || 'The chosen device'} is back.`;
      }
      await applyDevice(kind, next);
    }
    // Browsers without setSinkId play on the system's default output only.
    document.getElementById('wb-speaker-select').disabled = !('setSinkId' in HTMLMediaElement.prototype);
  }

  async function applyDevice(kind, deviceId) {
    effective[kind] = deviceId;
    document.body.dataset[kind === 'audioinput' ? 'microphone' : 'speaker'] = deviceId || 'default';
    if (kind !== 'audiooutput') return; // the microphone is opened by the media code with the chosen id
    for (const element of document.querySelectorAll('[data-ring-audio], [data-remote-audio]')) {
      if (typeof element.setSinkId === 'function') {
        try {
          await element.setSinkId(deviceId);
        } catch (err) {
          note.textContent = `Cannot play on that speaker: ${err.message || err.name}`;
        }
      }
    }
  }

  document.addEventListener('change', (event) => {
    const select = event.target.closest('[data-device-select]');
    if (!select) return;
    const kind = select.dataset.deviceSelect;
    const option = select.selectedOptions[0];
    remember(kind, select.value ? { deviceId: select.value, label: option ? option.textContent : '' } : null);
    note.textContent = '';
    applyDevice(kind, select.value);
  });

  if (media && media.addEventListener) {
    media.addEventListener('devicechange', () => refreshDevices(false, true));
  }
  refreshDevices(false, false);

  /** For the media code: the microphone and speaker the agent chose (or '' for the default). */
  window.workbenchDevices = {
    microphone: () => effective.audioinput,
    speaker: () => effective.audiooutput,
    refresh: () => refreshDevices(true, false),
  };

  // ---- Menus (status, canned responses, devices) -------------------------------------------------------------

  function menuParts(container) {
    const button = container.querySelector(':scope > [aria-expanded]');
    const menu = button && document.getElementById(button.getAttribute('aria-controls'));
    return { button, menu };
  }

  function closeMenus(except) {
    for (const container of document.querySelectorAll('[data-menu]')) {
      const { button, menu } = menuParts(container);
      if (!button || !menu || container === except) continue;
      button.setAttribute('aria-expanded', 'false');
      menu.hidden = true;
    }
  }

  function openMenu(container) {
    const { button, menu } = menuParts(container);
    closeMenus(container);
    button.setAttribute('aria-expanded', 'true');
    menu.hidden = false;
    if (container.classList.contains('devices')) refreshDevices(true, false);
    const first = menu.querySelector('[aria-checked="true"], [role^="menuitem"], select, button');
    if (first) first.focus();
  }

  document.addEventListener('click', (event) => {
    const container = event.target.closest('[data-menu]');
    const { button, menu } = container ? menuParts(container) : {};
    if (button && button.contains(event.target)) {
      if (button.getAttribute('aria-expanded') === 'true') closeMenus();
      else openMenu(container);
      return;
    }
    if (!container) closeMenus();
    else if (menu && event.target.closest('[role^="menuitem"]')) closeMenus(); // a choice was made
  });

  document.addEventListener('keydown', (event) => {
    const container = event.target.closest && event.target.closest('[data-menu]');
    if (event.key === 'Escape') {
      if (container && menuParts(container).button.getAttribute('aria-expanded') === 'true') {
        closeMenus();
        menuParts(container).button.focus();
        event.preventDefault();
        return;
      }
      const closer = event.target.closest && event.target.closest('[data-escape-close]');
      if (closer) {
        const close = document.querySelector(closer.dataset.escapeClose);
        if (close) close.click();
        event.preventDefault();
        return;
      }
      if (embedded) closePanel();
      return;
    }
    if (container && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
      const items = [...container.querySelectorAll('[role^="menuitem"]')];
      const at = items.indexOf(document.activeElement);
      if (!items.length) return;
      event.preventDefault();
      if (menuParts(container).button.getAttribute('aria-expanded') !== 'true') {
        openMenu(container);
        return;
      }
      const next = event.key === 'ArrowDown' ? (at + 1) % items.length : (at - 1 + items.length) % items.length;
      items[next].focus();
    }
  });

  document.addEventListener('click', (event) => {
    if (event.target.closest('[data-test-sound]')) testSound();
  });

  // ---- Tabs (the narrow, single-column layout of the embedded panel) ----------------------------------------

  const tabs = [...document.querySelectorAll('[data-view-tab]')];

  function showView(view, focus) {
    root.dataset.view = view;
    for (const tab of tabs) {
      const selected = tab.dataset.viewTab === view;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      if (selected && focus) tab.focus();
    }
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => showView(tab.dataset.viewTab, false));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const at = tabs.indexOf(tab);
      showView(tabs[(at + step + tabs.length) % tabs.length].dataset.viewTab, true);
      event.preventDefault();
    });
  }

  document.addEventListener('click', (event) => {
    // Accepting or picking a session shows it (the narrow layout may be on another tab).
    if (event.target.closest('[data-accept], .session-item')) showView('sessions', false);
  });

  // ---- Keypads: DTMF (typed digits send tones) and the dial pad ------------------------------------------------

  document.addEventListener('keydown', (event) => {
    const pad = event.target.closest && event.target.closest('[data-keypad]');
    if (!pad || event.ctrlKey || event.metaKey || event.altKey || !/^[0-9*#]$/.test(event.key)) return;
    const key = pad.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (key) {
      key.focus();
      key.click();
      event.preventDefault();
    }
  });

  const dialNumber = () => document.getElementById('wb-dial-number');
  document.addEventListener('click', (event) => {
    const key = event.target.closest('[data-dial-key]');
    const backspace = event.target.closest('[data-dial-backspace]');
    const input = dialNumber();
    if (!input || (!key && !backspace)) return;
    input.value = key ? input.value + key.dataset.dialKey : input.value.slice(0, -1);
  });

  // ---- Chat: Enter sends, typing and read receipts, canned responses -------------------------------------------

  let lastTyping = 0;
  const readSent = new Map(); // sessionId → highest seq reported read

  document.addEventListener('keydown', (event) => {
    if (event.target.id !== 'wb-composer-text' || event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    event.target.form.requestSubmit();
  });

  document.addEventListener('input', (event) => {
    if (event.target.id !== 'wb-composer-text') return;
    autosize(event.target);
    const now = Date.now();
    if (now - lastTyping > 2500 && event.target.value.trim()) {
      lastTyping = now;
      send({ action: 'chat.typing', sessionId: event.target.form.elements.sessionId.value });
    }
  });

  function autosize(textarea) {
    textarea.style.height = 'auto';
    textarea.style.height = `${Math.min(textarea.scrollHeight, 140)}px`;
  }

  document.addEventListener('htmx:wsConfigSend', (event) => {
    if (event.target.id === 'wb-composer') {
      event.detail.parameters.clientId = `wb-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    }
  });

  document.addEventListener('htmx:wsAfterSend', (event) => {
    if (event.target.id === 'wb-composer') {
      const text = document.getElementById('wb-composer-text');
      text.value = '';
      autosize(text);
      text.focus();
      lastTyping = 0;
    }
  });

  document.addEventListener('click', (event) => {
    const choice = event.target.closest('[data-insert]');
    const text = document.getElementById('wb-composer-text');
    if (!choice || !text) return;
    const { selectionStart: start, selectionEnd: end, value } = text;
    text.value = value.slice(0, start) + choice.dataset.insert + value.slice(end);
    text.focus();
    text.selectionStart = text.selectionEnd = start + choice.dataset.insert.length;
    autosize(text);
  });

  // New messages arrive appended to the log (hx-swap-oob="beforeend:#wb-chat-log"): the agent's answer may
  // overtake a visitor message stored just before it, and a full render may already hold an appended one.
  function tidyChatLog(log) {
    const messages = [...log.querySelectorAll(':scope > li[data-seq]')];
    if (!messages.length) return 0;
    for (const empty of log.querySelectorAll(':scope > .chat-empty')) empty.remove();
    const seen = new Set();
    let ordered = true;
    let previous = 0;
    let lastVisitor = Number(log.dataset.lastVisitorSeq) || 0;
    for (const message of messages) {
      const seq = Number(message.dataset.seq);
      if (seen.has(seq)) {
        message.remove();
        continue;
      }
      seen.add(seq);
      if (seq < previous) ordered = false;
      previous = seq;
      if (message.classList.contains('msg-visitor')) lastVisitor = Math.max(lastVisitor, seq);
    }
    if (!ordered) {
      const kept = [...log.querySelectorAll(':scope > li[data-seq]')];
      kept.sort((a, b) => Number(a.dataset.seq) - Number(b.dataset.seq));
      log.append(...kept);
    }
    return lastVisitor;
  }

  function followChat() {
    const log = document.getElementById('wb-chat-log');
    if (!log) return;
    const seq = tidyChatLog(log);
    if (chatWasAtBottom) log.scrollTop = log.scrollHeight;
    chatWasAtBottom = true;
    const session = log.dataset.session;
    if (seq > (readSent.get(session) || 0) && document.visibilityState === 'visible' && log.offsetParent) {
      readSent.set(session, seq);
      send({ action: 'chat.read', sessionId: session, seq });
    }
  }
  document.addEventListener('visibilitychange', followChat);
  document.addEventListener('htmx:wsOpen', () => setTimeout(followChat, 0));

  function armTyping() {
    const typing = document.getElementById('wb-chat-typing');
    if (!typing || !typing.dataset.forMs || typing.dataset.armed) return;
    typing.dataset.armed = 'true';
    setTimeout(() => {
      if (typing.isConnected) typing.replaceChildren();
    }, Number(typing.dataset.forMs));
  }

  // ---- Toasts ------------------------------------------------------------------------------------------------

  function armToasts() {
    const toasts = [...document.querySelectorAll('#wb-toasts .toast')];
    for (const old of toasts.slice(0, -3)) old.remove();
    for (const toast of toasts) {
      if (toast.dataset.armed) continue;
      toast.dataset.armed = 'true';
      setTimeout(() => toast.remove(), Number(toast.dataset.autodismiss) || 9000);
    }
  }

  document.addEventListener('click', (event) => {
    const dismiss = event.target.closest('[data-dismiss]');
    if (dismiss) dismiss.closest('.toast').remove();
  });

  // ---- Embedded in the SDK's panel: talk to the SDK on the host page ---------------------------------------------

  function closePanel() {
    if (embedded && window.parent !== window) window.parent.postMessage({ source: 'tccc-workbench', type: 'close' }, '*');
  }

  document.addEventListener('click', (event) => {
    if (event.target.closest('[data-close-embed]')) closePanel();
  });

  window.addEventListener('message', (event) => {
    if (!embedded || event.source !== window.parent || !event.data || event.data.source !== 'tccc-sdk') return;
    const message = event.data;
    if (message.type === 'resume' && typeof message.token === 'string' && message.token) {
      resumeToken = message.token;
      if (!root.hasAttribute('ws-connect') && window.htmx) {
        banner().hidden = true;
        delete banner().dataset.final;
        root.setAttribute('ws-connect', wsPath);
        htmx.process(root);
      }
    } else if (message.type === 'visibility') {
      uiHidden = Boolean(message.uiHidden);
      updateRing();
    } else if (message.type === 'focus') {
      const target = document.querySelector('[data-accept]') || document.getElementById('wb-status-button')
        || document.querySelector('[role=tab][aria-selected=true]');
      if (target) target.focus();
    }
  });
})();
