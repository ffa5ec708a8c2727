/*
 * chat_watch.js: what the chat watch page's browser does itself. Messages, typing, the header and toasts arrive
 * as HTML fragments over the websocket (htmx's ws extension swaps them by id); this script
 *  - sends the composer on Enter (Shift+Enter: a new line), with a clientId so a resend is stored once, and
 *    clears it once sent;
 *  - keeps the log in order without duplicates (a message may arrive appended and in a full render) and
 *    scrolled to the newest message while the reader is at the bottom;
 *  - once this supervisor has taken the chat over, tells the visitor they are typing and what they have read;
 *  - clears the typing line after its time, dismisses toasts, and says whether the page is live.
 */
(function () {
  'use strict';

  const root = document.getElementById('cw-root');
  if (!root) return;
  const text = document.getElementById('cw-composer-text');
  const hint = document.getElementById('cw-hint');
  let atBottom = true;
  let socket = null; // htmx's socket wrapper, once open
  let lastTyping = 0;
  let readSent = 0;

  function serving() {
    const status = document.getElementById('cw-status');
    return Boolean(status && status.dataset.state === 'active' && status.dataset.takenOverBy === root.dataset.me);
  }

  function send(message) {
    if (socket && serving()) socket.send(JSON.stringify(message));
  }

  document.addEventListener('input', (event) => {
    if (event.target !== text || !text.value.trim() || Date.now() - lastTyping < 2500) return;
    lastTyping = Date.now();
    send({ action: 'typing' });
  });

  function markRead() {
    const visitorMessages = document.querySelectorAll('#wb-chat-log > li.msg-visitor[data-seq]');
    const last = visitorMessages.length ? Number(visitorMessages[visitorMessages.length - 1].dataset.seq) : 0;
    if (last > readSent && document.visibilityState === 'visible' && serving()) {
      readSent = last;
      send({ action: 'read', seq: last });
    }
  }
  document.addEventListener('visibilitychange', markRead);

  document.addEventListener('keydown', (event) => {
    if (event.target !== text || event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (text.value.trim()) text.form.requestSubmit();
  });

  document.addEventListener('htmx:wsConfigSend', (event) => {
    if (event.target.id === 'cw-composer') {
      event.detail.parameters.clientId = `sv-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    }
  });

  document.addEventListener('htmx:wsAfterSend', (event) => {
    if (event.target.id === 'cw-composer') {
      text.value = '';
      text.focus();
      lastTyping = 0;
    }
  });

  function tidyLog() {
    const log = document.getElementById('wb-chat-log');
    if (!log) return;
    const messages = [...log.querySelectorAll(':scope > li[data-seq]')];
    if (messages.length) for (const empty of log.querySelectorAll(':scope > .chat-empty')) empty.remove();
    const seen = new Set();
    for (const message of messages) {
      if (seen.has(message.dataset.seq)) message.remove();
      seen.add(message.dataset.seq);
    }
    const kept = [...log.querySelectorAll(':scope > li[data-seq]')];
    kept.sort((a, b) => Number(a.dataset.seq) - Number(b.dataset.seq));
    log.append(...kept);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function armTyping() {
    const typing = document.getElementById('wb-chat-typing');
    if (!typing || !typing.dataset.forMs || typing.dataset.armed) return;
    typing.dataset.armed = 'true';
    setTimeout(() => { if (typing.isConnected) typing.replaceChildren(); }, Number(typing.dataset.forMs));
  }

  function armToasts() {
    for (const toast of document.querySelectorAll('#wb-toasts .toast:not([data-armed])')) {
      toast.dataset.armed = 'true';
      setTimeout(() => toast.remove(), Number(toast.dataset.autodismiss) || 9000);
    }
  }

  document.addEventListener('click', (event) => {
    const dismiss = event.target.closest('[data-dismiss]');
    if (dismiss) dismiss.closest('.toast').remove();
  });

  document.addEventListener('htmx:wsBeforeMessage', () => {
    const log = document.getElementById('wb-chat-log');
    atBottom = !log || log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  });

  const note = root.querySelector('[data-connection]');
  function connection(state, words) {
    root.dataset.connection = state;
    note.textContent = words;
  }
  document.addEventListener('htmx:wsOpen', (event) => {
    socket = event.detail.socketWrapper;
    connection('live', 'Live');
  });
  document.addEventListener('htmx:wsClose', (event) => {
    socket = null;
    const code = event.detail.event && event.detail.event.code;
    if (code === 4003) connection('refused', 'Not watching: see above.');
    else connection('lost', 'Connection lost. Reconnecting…');
  });
  document.addEventListener('htmx:wsAfterMessage', () => {
    tidyLog();
    armTyping();
    armToasts();
    const status = document.getElementById('cw-status');
    const open = status && status.dataset.state === 'active';
    text.disabled = !open;
    text.form.querySelector('button').disabled = !open;
    const alone = Boolean(status && status.dataset.takenOverBy);
    text.placeholder = alone ? 'Write to the visitor…' : 'Write to the visitor and the agent as supervisor…';
    hint.textContent = alone ? 'You serve this chat: the visitor sees your messages as the supervisor\'s.'
      : 'Your messages are shown to the visitor and the agent as the supervisor\'s.';
    markRead();
  });
  tidyLog();
}());
