/*
 * ui.js: the web chat widget's window (unless the script tag says data-headless="true"): a launcher button
 * bottom-right with an unread badge, and a panel with the conversation, the queue position while waiting, the
 * agent's typing indicator, read ticks, notices (rate limiting, errors) and the message input.
 *
 * It is drawn as common/panel.js mounts the widgets: in an open shadow root, in the widgets' shared look.
 * Text from anyone (messages, names) is only ever set with textContent, never parsed as HTML.
 */

const CHAT_ICON = ['M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z'];
const CLOSE_ICON = ['M18 6L6 18', 'M6 6l12 12'];

const WIDGET_STYLE = `
button, input, textarea { font: inherit; color: inherit; }
button:focus-visible, input:focus-visible, textarea:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.launcher svg { width: 26px; height: 26px; }
.unread {
position: absolute; top: -3px; right: -3px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
border: 2px solid #fff; background: #e5484d; color: #fff; font-size: 11px; font-weight: 700; line-height: 18px;
}
.panel { width: 370px; height: 560px; }
.status { margin: 1px 0 0; font-size: 12.5px; opacity: .88; }
.icon-button {
flex: none; height: 32px; min-width: 32px; padding: 0 10px; border: 0; border-radius: 8px;
background: rgba(255, 255, 255, .16); color: var(--on-accent); font-size: 12.5px; font-weight: 600;
}
.icon-button svg, .avatar svg { width: 18px; height: 18px; }
.conn { padding: 6px 16px; background: #fffaeb; color: #93370d; font-size: 12.5px; border-bottom: 1px solid #fde7b0; }
.body { flex: 1; min-height: 0; overflow-y: auto; padding: 16px; background: var(--muted-bg); }
.welcome { display: flex; flex-direction: column; gap: 12px; padding: 8px 4px; }
.welcome h2 { margin: 0; font-size: 18px; }
.welcome p { margin: 0; color: var(--text-muted); }
.welcome label { display: flex; flex-direction: column; gap: 6px; font-size: 13px; font-weight: 600; }
.welcome input {
height: 40px; padding: 0 12px; border: 1px solid var(--border); border-radius: 10px; background: #fff; font-weight: 400;
}
.primary {
height: 40px; padding: 0 18px; border: 0; border-radius: 10px; background: var(--accent); color: var(--on-accent);
font-weight: 650;
}
.primary:hover { background: var(--accent-hover); }
.primary:disabled { opacity: .6; cursor: default; }
.list { display: flex; flex-direction: column; gap: 10px; margin: 0; padding: 0; list-style: none; }
.system { align-self: center; max-width: 90%; padding: 4px 10px; border-radius: 999px; background: #e8ebf0;
color: var(--text-muted); font-size: 12px; text-align: center; }
.msg { display: flex; flex-direction: column; max-width: 80%; }
.msg.mine { align-self: flex-end; align-items: flex-end; }
.msg.theirs { align-self: flex-start; align-items: flex-start; }
.bubble {
padding: 9px 13px; border-radius: 16px; white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word;
}
.mine .bubble { background: var(--accent); color: var(--on-accent); border-bottom-right-radius: 5px; }
.msg.supervisor .bubble { background: #f2eefc; border-color: #6941c6; }
.author { margin-bottom: 2px; color: #6941c6; font-size: 11px; font-weight: 600; }
.theirs .bubble { background: #fff; border: 1px solid var(--border); border-bottom-left-radius: 5px; }
.meta { margin-top: 3px; color: var(--text-muted); font-size: 11.5px; }
.meta .read { color: var(--accent); font-weight: 600; }
.meta.failed { color: var(--danger); }
.typing { display: flex; align-items: center; gap: 8px; padding: 6px 16px 0; color: var(--text-muted); font-size: 12.5px; background: var(--muted-bg); }
.dots { display: inline-flex; gap: 3px; }
.dots i { width: 5px; height: 5px; border-radius: 50%; background: var(--text-muted); animation: blink 1.2s infinite; }
.dots i:nth-child(2) { animation-delay: .2s; }
.dots i:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
.notice { margin: 8px 12px 0; padding: 8px 12px; border-radius: 10px; background: var(--danger-soft); color: var(--danger); font-size: 13px; }
.foot { padding: 10px 12px 12px; background: var(--surface); border-top: 1px solid var(--border); }
.compose { display: flex; align-items: flex-end; gap: 8px; }
.compose textarea {
flex: 1; min-height: 40px; max-height: 112px; padding: 9px 12px; border: 1px solid var(--border); border-radius: 12px;
resize: none; background: #fff; line-height: 1.4;
}
.send { width: 40px; height: 40px; padding: 0; border: 0; border-radius: 12px; background: var(--accent); color: #fff;
display: flex; align-items: center; justify-content: center; }
.send:hover { background: var(--accent-hover); }
.send svg { width: 18px; height: 18px; }
.count { margin-top: 4px; color: var(--text-muted); font-size: 11.5px; text-align: right; }
.count.over { color: var(--danger); }
.ended { display: flex; align-items: center; justify-content: space-between; gap: 12px; color: var(--text-muted); }
`;

function drawChat(root) {
  const unread = el('span', { class: 'unread', hidden: '' });
  const launcher = el('button', { class: 'launcher', type: 'button', 'aria-label': 'Open the chat', 'data-launcher': '' },
    [icon(CHAT_ICON), unread]);
  const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
  const title = el('p', { class: 'title' });
  const status = el('p', { class: 'status', 'data-status': '' });
  const endButton = el('button', { class: 'icon-button', type: 'button', text: 'End chat', onclick: onEndClick });
  const closeButton = el('button', { class: 'icon-button', type: 'button', 'aria-label': 'Minimise the chat', onclick: () => setOpen(false) },
    [icon(['M6 9l6 6 6-6'])]);
  const conn = el('div', { class: 'conn', role: 'status' });
  const nameInput = el('input', { type: 'text', maxlength: '128', autocomplete: 'name', placeholder: 'Optional' });
  const startButton = el('button', { class: 'primary', type: 'submit', text: 'Start chat' });
  const welcome = el('form', { class: 'welcome', onsubmit: onStartSubmit }, [
    el('h2', { text: 'Hi there!' }),
    el('p', { text: 'Ask us anything. A member of our team will answer you here.' }),
    el('label', {}, [document.createTextNode('Your name'), nameInput]),
    startButton,
  ]);
  const list = el('ol', { class: 'list', 'aria-live': 'polite', 'data-messages': '' });
  const body = el('div', { class: 'body' }, [welcome, list]);
  const typingLine = el('div', { class: 'typing', 'data-typing': '' },
    [el('span', { class: 'dots', 'aria-hidden': 'true' }, [el('i'), el('i'), el('i')]), el('span')]);
  const notice = el('div', { class: 'notice', role: 'alert', 'data-notice': '' });
  const input = el('textarea', { rows: '1', placeholder: 'Write a message…', 'aria-label': 'Message', onkeydown: onKeyDown, oninput: onInput });
  const sendButton = el('button', { class: 'send', type: 'submit', 'aria-label': 'Send' }, [icon(['M5 12h14', 'M13 6l6 6-6 6'])]);
  const count = el('div', { class: 'count' });
  const compose = el('form', { class: 'compose', onsubmit: onSendSubmit }, [input, sendButton]);
  const endedLine = el('div', { class: 'ended' }, [
    el('span', { text: 'This chat has ended.' }),
    el('button', { class: 'primary', type: 'button', text: 'Start a new chat', onclick: () => { forgetEndedChat(); nameInput.focus(); } }),
  ]);
  const foot = el('div', { class: 'foot' }, [compose, count, endedLine]);
  const panel = el('section', { class: 'panel', role: 'dialog', 'aria-label': TITLE, 'data-panel': '' }, [
    el('header', { class: 'head' }, [avatar, el('div', { class: 'who' }, [title, status]), endButton, closeButton]),
    conn, body, typingLine, notice, foot,
  ]);
  root.appendChild(el('div', { class: 'w' }, [launcher, panel]));

  let open = store.get(OPEN_KEY) === '1';
  let noticeTimer = null;
  let renderedKey = '';
  launcher.addEventListener('click', () => setOpen(!open));

  function setOpen(value) {
    open = value;
    store.set(OPEN_KEY, open ? '1' : '0');
    render();
    if (open) {
      (chatOpen() ? input : nameInput).focus();
      markRead();
    }
  }

  function showNotice(text) {
    state.notice = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { state.notice = ''; render(); }, 8000);
    render();
  }

  async function onStartSubmit(event) {
    event.preventDefault();
    startButton.disabled = true;
    const result = await start({ nickname: nameInput.value.trim() || 'Visitor', channelName: 'Website',
      peerSource: (location.host + location.pathname).slice(0, 128) });
    startButton.disabled = false;
    if (result.status !== 'success') showNotice(result.errorMsg);
    else input.focus();
  }

  async function onSendSubmit(event) {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    if ([...text.trim()].length > MAX_TEXT) {
      showNotice(`Your message is too long: at most ${MAX_TEXT} characters.`);
      return;
    }
    input.value = '';
    resizeInput();
    const result = await send(text);
    if (result.status !== 'success') {
      showNotice(result.errorMsg.charAt(0).toUpperCase() + result.errorMsg.slice(1));
      if (/too fast/.test(result.errorMsg)) {
        // Nothing was stored: give the text back so the visitor can send it a little later.
        state.outgoing = state.outgoing.filter((o) => o.text !== text.trim() || !o.failed);
        if (!input.value) input.value = text.trim();
        resizeInput();
        render();
      }
    }
  }

  function onKeyDown(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      compose.requestSubmit();
    }
  }

  function onInput() {
    resizeInput();
    if (input.value.trim()) typing();
    render();
  }

  function resizeInput() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 112)}px`;
  }

  async function onEndClick() {
    const result = await end();
    if (result.status !== 'success') showNotice(result.errorMsg);
  }

  markRead = () => {
    if (open && state.chat && document.visibilityState === 'visible' && lastSeq() > (state.chat.readByVisitor || 0)) {
      read(lastSeq());
    }
  };
  document.addEventListener('visibilitychange', () => markRead());
  api.open = () => setOpen(true);
  api.close = () => setOpen(false);

  const agentName = () => (state.chat && state.chat.agentNickname) || 'Support';

  function statusText(chat) {
    if (state.connection === 'stopped') return 'Unavailable';
    if (!chat) return 'We usually answer within a few minutes';
    if (chat.state === 'queued') return chat.position ? `You are number ${chat.position} in the queue` : 'Waiting for an agent…';
    if (chat.state === 'ringing') return 'Connecting you to an agent…';
    if (chat.state === 'active') return `${agentName()} is here to help`;
    if (chat.endStatus === 'noSeatOnline') return 'Nobody is available right now';
    return 'Chat ended';
  }

  function endedText(chat) {
    if (chat.endStatus === 'noSeatOnline') return 'Sorry, nobody is available to chat right now. Please try again later.';
    if (chat.endStatus === 'waitingGiveUp' && chat.closeBy !== 'client') return 'Sorry, nobody could answer in time. Please try again later.';
    return chat.closeBy === 'client' ? 'You ended the chat.' : 'The chat has ended. Thank you for writing to us!';
  }

  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function messageItem(message) {
    const mine = message.sender === 'visitor';
    const meta = el('div', { class: 'meta' });
    meta.appendChild(document.createTextNode(time(message.createdAt)));
    if (mine) {
      const read = state.chat && (state.chat.readByAgent || 0) >= message.seq;
      meta.appendChild(document.createTextNode(' · '));
      meta.appendChild(el('span', { class: read ? 'read' : '', 'data-tick': read ? 'read' : 'sent', text: read ? '✓✓ Read' : '✓ Sent' }));
    }
    // A supervisor watching the chat may write into it: their messages are marked as theirs.
    const supervisor = message.sender === 'supervisor';
    const parts = supervisor ? [el('div', { class: 'author', text: 'Supervisor' })] : [];
    parts.push(el('div', { class: 'bubble', text: message.text }), meta);
    return el('li', { class: `msg ${mine ? 'mine' : 'theirs'}${supervisor ? ' supervisor' : ''}`,
      'data-seq': String(message.seq), 'data-sender': message.sender }, parts);
  }

  function outgoingItem(outgoing) {
    return el('li', { class: 'msg mine', 'data-outgoing': '' }, [
      el('div', { class: 'bubble', text: outgoing.text }),
      el('div', { class: `meta${outgoing.failed ? ' failed' : ''}`, text: outgoing.failed ? 'Not sent' : 'Sending…' }),
    ]);
  }

  function systemLines(chat) {
    const lines = [];
    if (!chat) return lines;
    if (chat.state === 'queued' || chat.state === 'ringing') {
      lines.push(chat.position ? `All our agents are busy. You are number ${chat.position} in the queue.` : 'Connecting you to an agent…');
    }
    return lines;
  }

  render = () => {
    const chat = state.chat;
    launcher.setAttribute('aria-label', open ? 'Close the chat' : 'Open the chat');
    if (launcher.dataset.open !== String(open)) {
      launcher.dataset.open = String(open);
      launcher.replaceChildren(icon(open ? CLOSE_ICON : CHAT_ICON), unread);
    }
    panel.hidden = !open;
    const name = chat && chat.state === 'active' ? agentName() : TITLE;
    title.textContent = name;
    if (chat && chat.state === 'active') avatar.textContent = name.trim().charAt(0).toUpperCase();
    else avatar.replaceChildren(icon(CHAT_ICON));
    status.textContent = statusText(chat);
    endButton.hidden = !chatOpen();
    conn.hidden = !(state.connection === 'reconnecting' || state.connection === 'stopped');
    conn.textContent = state.connection === 'stopped' ? state.stoppedReason : 'Connection lost: reconnecting…';
    welcome.hidden = Boolean(chat);
    list.hidden = !chat;
    const ended = Boolean(chat && chat.state === 'ended');
    compose.hidden = !chat || ended;
    endedLine.hidden = !ended;
    foot.hidden = !chat;
    const length = [...input.value.trim()].length;
    count.hidden = length < MAX_TEXT - 200;
    count.className = `count${length > MAX_TEXT ? ' over' : ''}`;
    count.textContent = `${length} / ${MAX_TEXT}`;
    typingLine.hidden = !(state.agentTyping && chat && chat.state === 'active');
    typingLine.lastChild.textContent = `${agentName()} is typing…`;
    notice.hidden = !state.notice;
    notice.textContent = state.notice;

    // Rebuild the list only when something in it changed (keeps text selections while nothing arrives).
    const key = JSON.stringify([chat && chat.sessionId, chat && chat.readByAgent, systemLines(chat),
      state.messages.map((m) => m.id), state.outgoing.map((o) => [o.clientId, o.failed]), ended]);
    if (key !== renderedKey) {
      renderedKey = key;
      const items = state.messages.map(messageItem);
      for (const text of systemLines(chat)) items.push(el('li', { class: 'system', text }));
      items.push(...state.outgoing.map(outgoingItem));
      if (ended) items.push(el('li', { class: 'system', text: endedText(chat) }));
      list.replaceChildren(...items);
      body.scrollTop = body.scrollHeight; // the newest message in view
    }
    const read = chat ? chat.readByVisitor || 0 : 0;
    const unreadCount = state.messages.filter((m) => m.sender !== 'visitor' && m.seq > read).length;
    unread.hidden = open || unreadCount === 0;
    unread.textContent = String(unreadCount);
  };

  api.on('message', (message) => {
    if (message.sender !== 'visitor') markRead();
  });
  render();
}

mountWidget('tccc-chat-root', WIDGET_STYLE, HEADLESS, drawChat);
