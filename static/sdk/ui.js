/*
 * ui.js: `tccc.UI`, the floating button with a badge counting ringing offers, and the workbench panel.
 *
 * The panel is an iframe of the server's own `/workbench/embed/`, not DOM the SDK draws: the workbench is
 * Django templates + htmx with its own stylesheet and websocket, and an iframe isolates its CSS and JS from the
 * host page completely in both directions, lets htmx run unmodified, and lets one page serve both the embedded
 * panel and the standalone `/workbench/` tab. The iframe signs in with the SDK's resume token, handed over in
 * the URL fragment (never sent to a server, nor in a Referer) and by postMessage after each reconnect.
 * The button, its badge and the panel's frame are in an open shadow root on the host page (the host element
 * reset with `all: initial`), so the host's CSS cannot reach them either; hosts may retheme them with the
 * --tccc-* custom properties on #tccc-sdk-root (their defaults are the widgets' colours, common/theme.js). The
 * root is open so that tests and developers can inspect it.
 * `data-ui="none"` on the SDK's script tag draws nothing (the standalone workbench loads the SDK that way).
 */

const UI_ROOT_ID = 'tccc-sdk-root';
const WORKBENCH_PATH = '/workbench/embed/';

const UI_STYLE = `
:host {
${colourProperties('tccc-')}
  --tccc-surface-muted: #f6f7f9;
  --tccc-danger: #e5484d;
  --tccc-notice-bg: #fffaeb;
  --tccc-notice-text: #93370d;
  --tccc-radius: 14px;
  --tccc-shadow: 0 16px 40px rgba(16, 24, 40, 0.18), 0 2px 6px rgba(16, 24, 40, 0.08);
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
.float-button[data-ringing] { animation: tccc-ring 1.6s ease-out infinite; }
@keyframes tccc-ring {
  0% { box-shadow: 0 0 0 0 rgba(47, 111, 237, 0.5), var(--tccc-shadow); }
  70% { box-shadow: 0 0 0 14px rgba(47, 111, 237, 0), var(--tccc-shadow); }
  100% { box-shadow: 0 0 0 0 rgba(47, 111, 237, 0), var(--tccc-shadow); }
}
.badge {
  position: absolute; top: -2px; right: -2px; box-sizing: border-box;
  min-width: 22px; height: 22px; padding: 0 6px; border: 2px solid var(--tccc-surface); border-radius: 11px;
  background: var(--tccc-danger); color: #ffffff; font-size: 11px; font-weight: 600; line-height: 18px; text-align: center;
}
.workbench {
  position: fixed; right: 24px; bottom: 92px; z-index: 2147483000; box-sizing: border-box;
  width: 380px; height: 600px; max-width: calc(100vw - 32px); max-height: calc(100vh - 116px);
  background: var(--tccc-surface); border: 1px solid var(--tccc-border); border-radius: var(--tccc-radius);
  box-shadow: var(--tccc-shadow); overflow: hidden;
}
.frame { display: block; width: 100%; height: 100%; border: 0; background: var(--tccc-surface); }
.notice {
  position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center;
  gap: 14px; padding: 32px; background: rgba(255, 255, 255, 0.92); text-align: center;
}
.notice-text { margin: 0; max-width: 280px; color: var(--tccc-text); font-weight: 600; }
.notice[data-tone="warn"] .notice-text { color: var(--tccc-notice-text); }
.spinner {
  width: 28px; height: 28px; border: 3px solid var(--tccc-border); border-top-color: var(--tccc-accent);
  border-radius: 50%; animation: tccc-spin 0.9s linear infinite;
}
@keyframes tccc-spin { to { transform: rotate(360deg); } }
.notice-close {
  height: 34px; padding: 0 16px; border: 1px solid var(--tccc-border); border-radius: 8px;
  background: var(--tccc-surface); color: var(--tccc-text); font-weight: 600; cursor: pointer;
}
.notice-close:hover { background: var(--tccc-surface-muted); }
@media (max-width: 440px) {
  .workbench { right: 8px; left: 8px; width: auto; max-width: none; bottom: 88px; }
}
@media (prefers-reduced-motion: reduce) { * { transition: none !important; animation: none !important; } }
`;

const UI_TEMPLATE = `
<div class="tccc">
  <section class="workbench" id="tccc-workbench" role="dialog" aria-label="Contact center workbench" hidden>
    <div class="notice" data-notice role="status">
      <div class="spinner" data-spinner aria-hidden="true"></div>
      <p class="notice-text" data-notice-text>Connecting…</p>
      <button type="button" class="notice-close" data-close hidden>Close</button>
    </div>
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

const CONNECTION_NOTICES = {
  connecting: 'Connecting…',
  reconnecting: 'Connection lost. Reconnecting…',
};

/**
 * options: { origin: the server's origin (where the workbench page lives), enabled: false for data-ui="none" }.
 * Returns { api, setResumeToken, setConnection, setOffers, unmount }; `api` is `tccc.UI`.
 */
function createWorkbenchUI(options) {
  const origin = options.origin;
  const state = {
    hidden: false,
    floatButton: true,
    workbench: false,
    connection: 'connecting',
    connectionDetail: '',
    offers: 0,
    resumeToken: '',
  };
  let host = null;
  let parts = null;
  let frame = null;
  let frameLoaded = false;

  function mount() {
    if (!options.enabled || host || typeof document === 'undefined') return;
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
      notice: root.querySelector('[data-notice]'),
      noticeText: root.querySelector('[data-notice-text]'),
      spinner: root.querySelector('[data-spinner]'),
      close: root.querySelector('[data-close]'),
    };
    parts.floatButton.addEventListener('click', () => {
      if (state.workbench) closeWorkbench();
      else openWorkbench();
    });
    parts.close.addEventListener('click', closeWorkbench);
    parts.workbench.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') closeWorkbench();
    });
    window.addEventListener('message', fromWorkbench);
    document.body.appendChild(host);
    renderFrame();
    renderVisibility();
    renderNotice();
    renderBadge();
  }

  function unmount() {
    document.removeEventListener('DOMContentLoaded', mount);
    window.removeEventListener('message', fromWorkbench);
    if (host) host.remove();
    host = null;
    parts = null;
    frame = null;
  }

  function fromWorkbench(event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data && event.data.source === 'tccc-workbench' && event.data.type === 'close') closeWorkbench();
  }

  function toWorkbench(message) {
    if (frame && frameLoaded && frame.contentWindow) {
      frame.contentWindow.postMessage({ source: 'tccc-sdk', ...message }, origin);
    }
  }

  function openWorkbench() {
    update({ hidden: false, workbench: true });
    if (frame) {
      frame.focus();
      toWorkbench({ type: 'focus' });
    }
  }

  function closeWorkbench() {
    const hadFocus = host && (host.shadowRoot.activeElement || document.activeElement === host);
    update({ workbench: false });
    if (hadFocus && parts && !parts.floatButton.hidden) parts.floatButton.focus();
  }

  /** The iframe exists once the SDK has a resume token and stays (hidden or not) so it can ring. */
  function renderFrame() {
    if (!parts) return;
    const stopped = state.connection === 'stopped';
    if (stopped && frame) {
      frame.remove();
      frame = null;
    }
    if (frame || stopped || !state.resumeToken) return;
    frame = document.createElement('iframe');
    frame.className = 'frame';
    frame.title = 'Contact center workbench';
    // Ring tone, microphone (device names) and speaker choice inside the panel need the host's delegation.
    frame.allow = 'autoplay; microphone; camera; speaker-selection';
    frame.src = `${origin}${WORKBENCH_PATH}#resume=${encodeURIComponent(state.resumeToken)}`;
    frameLoaded = false;
    frame.addEventListener('load', () => {
      frameLoaded = true;
      sendVisibility();
      renderNotice();
    });
    parts.workbench.prepend(frame);
  }

  function renderVisibility() {
    if (!parts) return;
    parts.floatButton.hidden = state.hidden || !state.floatButton;
    parts.workbench.hidden = state.hidden || !state.workbench;
    parts.floatButton.setAttribute('aria-expanded', String(!parts.workbench.hidden));
    parts.floatButton.setAttribute('aria-label', `${parts.workbench.hidden ? 'Open' : 'Close'} contact center workbench`);
    sendVisibility();
  }

  function sendVisibility() {
    toWorkbench({ type: 'visibility', uiHidden: state.hidden, panelOpen: state.workbench && !state.hidden });
  }

  function renderNotice() {
    if (!parts) return;
    const stopped = state.connection === 'stopped';
    let text = '';
    if (stopped) text = stoppedNotice(state.connectionDetail);
    else if (state.connection !== 'connected') text = CONNECTION_NOTICES[state.connection] || '';
    else if (!frameLoaded) text = 'Loading the workbench…';
    parts.noticeText.textContent = text;
    parts.notice.hidden = !text;
    parts.notice.dataset.tone = stopped ? 'warn' : 'info';
    parts.spinner.hidden = stopped;
    parts.close.hidden = !stopped;
  }

  function stoppedNotice(reason) {
    const text = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : 'Disconnected';
    return `${text}. Reload the page to sign in again.`;
  }

  function renderBadge() {
    if (!parts) return;
    const count = state.offers;
    parts.badge.textContent = count > 99 ? '99+' : String(count);
    parts.badge.hidden = count === 0;
    parts.floatButton.toggleAttribute('data-ringing', count > 0);
    parts.floatButton.title = count ? `Contact center: ${count} waiting` : 'Contact center';
  }

  function setResumeToken(token) {
    if (!token || token === state.resumeToken) return;
    state.resumeToken = token;
    if (frame) toWorkbench({ type: 'resume', token });
    else renderFrame();
  }

  function setConnection(connection, detail) {
    state.connection = connection;
    state.connectionDetail = detail || '';
    renderFrame();
    renderNotice();
  }

  function setOffers(offers) {
    state.offers = offers.length;
    renderBadge();
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
  return { api, setResumeToken, setConnection, setOffers, unmount };
}
