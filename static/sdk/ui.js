/*
 * ui.js: `tccc.UI` and the small workbench the SDK draws on the host page: a floating button with a badge
 * counting ringing offers, and a panel with the agent's name and status and the ringing offers to accept.
 *
 * A shadow root rather than an iframe: the SDK already runs in the host's document, so it builds and updates
 * this DOM directly, with no second document and no cross-document messaging, while the host's CSS cannot
 * reach inside (the host element is reset with `all: initial`, so not even inherited fonts leak in).
 * The root is open so that tests (Playwright pierces open roots) and developers can inspect it.
 * Hosts may retheme it by setting the --tccc-* custom properties on #tccc-sdk-root.
 * Text from sessions (nicknames, remarks) comes from customers: it is only ever set with textContent.
 */

const UI_ROOT_ID = 'tccc-sdk-root';

const UI_STYLE = `
:host {
  --tccc-accent: #2f6fed;
  --tccc-accent-hover: #2459c7;
  --tccc-on-accent: #ffffff;
  --tccc-surface: #ffffff;
  --tccc-surface-muted: #f6f7f9;
  --tccc-text: #1f2430;
  --tccc-text-muted: #667085;
  --tccc-border: #e4e7ec;
  --tccc-ok: #12b76a;
  --tccc-warn: #f79009;
  --tccc-danger: #e5484d;
  --tccc-idle: #98a2b3;
  --tccc-notice-bg: #fffaeb;
  --tccc-notice-text: #93370d;
  --tccc-radius: 12px;
  --tccc-space: 16px;
  --tccc-shadow: 0 12px 32px rgba(16, 24, 40, 0.16), 0 2px 6px rgba(16, 24, 40, 0.08);
  --tccc-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "PingFang SC", "Microsoft YaHei", sans-serif;
}
[hidden] { display: none !important; }
.tccc { font: 14px/1.45 var(--tccc-font); color: var(--tccc-text); }
button { font: inherit; }
button:focus-visible { outline: 2px solid var(--tccc-accent); outline-offset: 2px; }
.float-button {
  position: fixed; right: 24px; bottom: 24px; z-index: 2147483000;
  display: flex; align-items: center; justify-content: center;
  width: 56px; height: 56px; padding: 0; border: 0; border-radius: 50%;
  background: var(--tccc-accent); color: var(--tccc-on-accent); box-shadow: var(--tccc-shadow);
  cursor: pointer; transition: background-color 0.15s ease, transform 0.15s ease;
}
.float-button:hover { background: var(--tccc-accent-hover); }
.float-button:active { transform: scale(0.96); }
.badge {
  position: absolute; top: -2px; right: -2px; box-sizing: border-box;
  min-width: 22px; height: 22px; padding: 0 6px; border: 2px solid var(--tccc-surface); border-radius: 11px;
  background: var(--tccc-danger); color: #ffffff; font-size: 11px; font-weight: 600; line-height: 18px; text-align: center;
}
.workbench {
  position: fixed; right: 24px; bottom: 92px; z-index: 2147483000; box-sizing: border-box;
  display: flex; flex-direction: column;
  width: 360px; height: 520px; max-width: calc(100vw - 48px); max-height: calc(100vh - 116px);
  background: var(--tccc-surface); border: 1px solid var(--tccc-border); border-radius: var(--tccc-radius);
  box-shadow: var(--tccc-shadow); overflow: hidden;
}
.header {
  display: flex; align-items: center; justify-content: space-between;
  padding: 10px 8px 10px var(--tccc-space); border-bottom: 1px solid var(--tccc-border);
}
.header h2 { margin: 0; font-size: 15px; font-weight: 600; }
.close {
  width: 32px; height: 32px; padding: 0; border: 0; border-radius: 8px;
  background: transparent; color: var(--tccc-text-muted); font-size: 20px; line-height: 1; cursor: pointer;
}
.close:hover { background: var(--tccc-surface-muted); color: var(--tccc-text); }
.agent { padding: 12px var(--tccc-space); background: var(--tccc-surface-muted); border-bottom: 1px solid var(--tccc-border); }
.agent-name, .offer-who, .offer-remark { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.agent-name { font-weight: 600; }
.agent-status { display: flex; align-items: center; gap: 6px; color: var(--tccc-text-muted); font-size: 13px; }
.status-dot { flex: none; width: 8px; height: 8px; border-radius: 50%; background: var(--tccc-idle); }
.status-dot[data-tone="ok"] { background: var(--tccc-ok); }
.status-dot[data-tone="warn"] { background: var(--tccc-warn); }
.status-dot[data-tone="busy"] { background: var(--tccc-danger); }
.status-dot[data-tone="info"] { background: var(--tccc-accent); }
.connection {
  margin: 0; padding: 8px var(--tccc-space); font-size: 13px;
  background: var(--tccc-notice-bg); color: var(--tccc-notice-text); border-bottom: 1px solid var(--tccc-border);
}
.section-title {
  margin: 0; padding: 12px var(--tccc-space) 4px; color: var(--tccc-text-muted);
  font-size: 12px; font-weight: 600; letter-spacing: 0.04em; text-transform: uppercase;
}
.offers { flex: 1; margin: 0; padding: 0 8px 12px; overflow-y: auto; list-style: none; }
.offer { display: flex; align-items: center; gap: 12px; padding: 10px 8px; }
.offer + .offer { border-top: 1px solid var(--tccc-border); }
.offer-text { flex: 1; min-width: 0; }
.offer-kind, .offer-remark { color: var(--tccc-text-muted); font-size: 12px; }
.offer-who { font-weight: 600; }
.offer-error { color: var(--tccc-danger); font-size: 12px; }
.accept {
  flex: none; height: 32px; padding: 0 14px; border: 0; border-radius: 8px;
  background: var(--tccc-ok); color: #ffffff; font-weight: 600; cursor: pointer;
}
.accept:hover { filter: brightness(0.95); }
.accept:disabled { opacity: 0.6; cursor: progress; }
.empty { flex: 1; margin: 0; padding: 24px var(--tccc-space); color: var(--tccc-text-muted); text-align: center; }
@media (prefers-reduced-motion: reduce) { * { transition: none !important; } }
`;

const UI_TEMPLATE = `
<div class="tccc">
  <section class="workbench" id="tccc-workbench" role="dialog" aria-label="Contact center workbench" hidden>
    <header class="header">
      <h2>Contact center</h2>
      <button type="button" class="close" data-close aria-label="Close workbench" title="Close">&times;</button>
    </header>
    <div class="agent">
      <div class="agent-name" data-agent-name></div>
      <div class="agent-status"><span class="status-dot" data-status-dot></span><span data-status-text></span></div>
    </div>
    <p class="connection" data-connection role="status" hidden></p>
    <h3 class="section-title">Incoming</h3>
    <ul class="offers" data-offers aria-label="Incoming sessions"></ul>
    <p class="empty" data-empty>No incoming sessions</p>
  </section>
  <button type="button" class="float-button" data-float-button aria-label="Open contact center workbench"
          title="Contact center" aria-controls="tccc-workbench" aria-expanded="false">
    <svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true" focusable="false" fill="none"
         stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
      <path d="M3 18v-6a9 9 0 0 1 18 0v6"/>
      <path d="M21 19a2 2 0 0 1-2 2h-1a2 2 0 0 1-2-2v-3a2 2 0 0 1 2-2h3z"/>
      <path d="M3 19a2 2 0 0 0 2 2h1a2 2 0 0 0 2-2v-3a2 2 0 0 0-2-2H3z"/>
    </svg>
    <span class="badge" data-badge aria-hidden="true" hidden></span>
  </button>
</div>
`;

const AGENT_STATUS_LABELS = {
  free: ['Free', 'ok'],
  stopNotReady: ['Free', 'ok'],
  rest: ['On break', 'warn'],
  notReady: ['Not ready', 'warn'],
  arrange: ['Wrap-up', 'info'],
  busy: ['Busy', 'busy'],
  offline: ['Offline', 'idle'],
};

const OFFER_KIND_LABELS = {
  phone: 'Phone call',
  im: 'Chat',
  voip: 'Audio call',
  video: 'Video call',
  internal: 'Internal call',
};

const CONNECTION_NOTICES = {
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
};

/** Which namespace accepts an offer of this type (Tencent: im → Chat, video → Video, the rest → Call). */
function acceptNamespaceFor(type) {
  if (type === 'im') return 'Chat';
  if (type === 'video') return 'Video';
  return 'Call';
}

function offerCaller(offer) {
  const who =
    offer.type === 'phone' ? offer.callerPhoneNumber || offer.protectedCaller
      : offer.type === 'internal' ? offer.peerUserId
        : offer.nickname || offer.userId;
  return who ? String(who) : 'Unknown caller';
}

/**
 * rpc: the namespaces built by buildRpcNamespaces (the UI accepts with them and reads the agent's status).
 * Returns { api, setAgent, setConnection, setOffers, refreshAgentStatus, unmount }; `api` is `tccc.UI`.
 */
function createWorkbenchUI(rpc) {
  const state = {
    hidden: false,
    floatButton: true,
    workbench: false,
    nickname: '',
    status: '',
    restReason: '',
    connection: 'connecting',
    connectionDetail: '',
    offers: [],
  };
  const accepting = new Set(); // sessionIds with an accept in flight
  const acceptErrors = new Map(); // sessionId → errorMsg of the last failed accept
  let statusReads = 0;
  let host = null;
  let parts = null;

  function mount() {
    if (host || typeof document === 'undefined') return;
    if (!document.body) {
      document.addEventListener('DOMContentLoaded', mount, { once: true });
      return;
    }
    const stale = document.getElementById(UI_ROOT_ID);
    if (stale) stale.remove();
    host = document.createElement('div');
    host.id = UI_ROOT_ID;
    // Inline and !important, so that no host rule (`div { ... }`) restyles the element the SDK hangs on.
    host.style.setProperty('all', 'initial', 'important');
    const root = host.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${UI_STYLE}</style>${UI_TEMPLATE}`;
    parts = {
      floatButton: root.querySelector('[data-float-button]'),
      badge: root.querySelector('[data-badge]'),
      workbench: root.querySelector('.workbench'),
      close: root.querySelector('[data-close]'),
      agentName: root.querySelector('[data-agent-name]'),
      statusDot: root.querySelector('[data-status-dot]'),
      statusText: root.querySelector('[data-status-text]'),
      connection: root.querySelector('[data-connection]'),
      offers: root.querySelector('[data-offers]'),
      empty: root.querySelector('[data-empty]'),
    };
    parts.floatButton.addEventListener('click', () => {
      state.workbench = !state.workbench;
      renderVisibility();
    });
    parts.close.addEventListener('click', () => {
      state.workbench = false;
      renderVisibility();
      parts.floatButton.focus();
    });
    parts.workbench.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      state.workbench = false;
      renderVisibility();
      parts.floatButton.focus();
    });
    document.body.appendChild(host);
    renderVisibility();
    renderAgent();
    renderOffers();
  }

  function unmount() {
    document.removeEventListener('DOMContentLoaded', mount);
    if (host) host.remove();
    host = null;
    parts = null;
  }

  function renderVisibility() {
    if (!parts) return;
    parts.floatButton.hidden = state.hidden || !state.floatButton;
    parts.workbench.hidden = state.hidden || !state.workbench;
    parts.floatButton.setAttribute('aria-expanded', String(!parts.workbench.hidden));
  }

  function renderAgent() {
    if (!parts) return;
    parts.agentName.textContent = state.nickname || 'Agent';
    const [label, tone] = AGENT_STATUS_LABELS[state.status] || [state.status || '…', 'idle'];
    parts.statusText.textContent = state.status === 'rest' && state.restReason ? `${label}: ${state.restReason}` : label;
    parts.statusDot.dataset.tone = tone;
    const notice = state.connection === 'stopped' ? stoppedNotice(state.connectionDetail) : CONNECTION_NOTICES[state.connection];
    parts.connection.textContent = notice || '';
    parts.connection.hidden = !notice;
  }

  function stoppedNotice(reason) {
    const text = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : 'Disconnected';
    return `${text}. Reload the page to sign in again.`;
  }

  function renderOffers() {
    if (!parts) return;
    const count = state.offers.length;
    parts.badge.textContent = count > 99 ? '99+' : String(count);
    parts.badge.hidden = count === 0;
    parts.empty.hidden = count > 0;
    parts.offers.hidden = count === 0;
    parts.offers.replaceChildren(...state.offers.map(offerItem));
  }

  function offerItem(offer) {
    const item = document.createElement('li');
    item.className = 'offer';
    const text = document.createElement('div');
    text.className = 'offer-text';
    text.append(line('offer-kind', OFFER_KIND_LABELS[offer.type] || 'Session'), line('offer-who', offerCaller(offer)));
    if (offer.remark) text.append(line('offer-remark', String(offer.remark)));
    if (acceptErrors.has(offer.sessionId)) text.append(line('offer-error', acceptErrors.get(offer.sessionId)));
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'accept';
    button.textContent = accepting.has(offer.sessionId) ? 'Accepting…' : 'Accept';
    button.disabled = accepting.has(offer.sessionId);
    button.setAttribute('aria-label', `Accept ${text.children[0].textContent.toLowerCase()} from ${offerCaller(offer)}`);
    button.addEventListener('click', () => accept(offer));
    item.append(text, button);
    return item;
  }

  function line(className, content) {
    const element = document.createElement('div');
    element.className = className;
    element.textContent = content;
    return element;
  }

  async function accept(offer) {
    const sessionId = offer.sessionId;
    accepting.add(sessionId);
    acceptErrors.delete(sessionId);
    renderOffers();
    const namespace = rpc[acceptNamespaceFor(offer.type)];
    const result = namespace && namespace.accept
      ? await namespace.accept({ sessionId })
      : { status: 'error', errorMsg: 'this server cannot accept such a session' };
    accepting.delete(sessionId);
    if (result.status !== 'success') acceptErrors.set(sessionId, result.errorMsg || 'Could not accept');
    renderOffers();
  }

  /** Re-reads the agent's status from the server; only the newest answer is shown. */
  async function refreshAgentStatus() {
    if (!rpc.Agent.getStatus) return;
    const read = ++statusReads;
    const result = await rpc.Agent.getStatus();
    if (read !== statusReads || result.status !== 'success' || !result.data) return;
    state.status = String(result.data.status || '');
    state.restReason = String(result.data.restReason || '');
    renderAgent();
  }

  function setAgent(agent) {
    if (!agent || typeof agent !== 'object') return;
    state.nickname = String(agent.nickname || agent.userId || '');
    state.status = String(agent.status || '');
    state.restReason = String(agent.restReason || '');
    statusReads++; // a status read still in flight is older than this
    renderAgent();
  }

  function setConnection(connection, detail) {
    state.connection = connection;
    state.connectionDetail = detail || '';
    renderAgent();
  }

  function setOffers(offers) {
    state.offers = offers;
    const ringing = new Set(offers.map((offer) => offer.sessionId));
    for (const sessionId of [...acceptErrors.keys()]) if (!ringing.has(sessionId)) acceptErrors.delete(sessionId);
    renderOffers();
  }

  function update(changes) {
    Object.assign(state, changes);
    renderVisibility();
  }

  const api = {
    hide: () => update({ hidden: true }),
    show: () => update({ hidden: false, floatButton: true }),
    showfloatButton: () => update({ floatButton: true }),
    hidefloatButton: () => update({ floatButton: false }),
    showWorkbench: () => update({ hidden: false, workbench: true }),
    hideWorkbench: () => update({ workbench: false }),
  };

  mount();
  return { api, setAgent, setConnection, setOffers, refreshAgentStatus, unmount };
}
