/*
 * panel.js: what the chat and call widgets' windows share: an open shadow root on the host page (the host
 * element reset with `all: initial`, so the page's CSS cannot reach in and ours cannot leak out; open so that
 * tests and developers can inspect it), the base look (colours, launcher button, panel, header), and the
 * helpers that build their DOM. Text from anyone is only ever set with textContent, never parsed as HTML.
 */

const WIDGET_BASE_STYLE = `
:host { all: initial; }
.w {
${colourProperties('')}
--muted-bg: #f3f5f8; --danger: #c4262e; --danger-soft: #fdeced;
--radius: 16px; --shadow: 0 18px 48px rgba(16, 24, 40, 0.18), 0 2px 8px rgba(16, 24, 40, 0.08);
font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "PingFang SC", sans-serif;
color: var(--text);
}
[hidden] { display: none !important; }
* { box-sizing: border-box; }
button { cursor: pointer; }
.launcher {
position: fixed; right: 24px; bottom: 24px; z-index: 2147483000; width: 58px; height: 58px; border: 0;
border-radius: 50%; background: var(--accent); color: var(--on-accent); box-shadow: var(--shadow);
display: flex; align-items: center; justify-content: center; transition: background-color .15s, transform .15s;
}
.launcher:hover { background: var(--accent-hover); }
.launcher:active { transform: scale(.96); }
.panel {
position: fixed; right: 24px; bottom: 96px; z-index: 2147483000;
max-width: calc(100vw - 32px); max-height: calc(100vh - 120px); display: flex; flex-direction: column;
background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
box-shadow: var(--shadow); overflow: hidden;
}
.head { display: flex; align-items: center; gap: 12px; padding: 16px 16px 14px; background: var(--accent); color: var(--on-accent); }
.avatar {
flex: none; width: 38px; height: 38px; border-radius: 50%; background: rgba(255, 255, 255, .2);
display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: 16px;
}
.who { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 15px; font-weight: 650; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.icon-button:hover { background: rgba(255, 255, 255, .28); }
`;

/**
 * Draw a widget once the page has a body: a host element `hostId` with an open shadow root holding the base
 * look and the widget's own `style`; `build(root)` then fills the root. A headless widget draws nothing.
 */
function mountWidget(hostId, style, headless, build) {
  if (headless) return;
  const mount = () => {
    const host = document.createElement('div');
    host.id = hostId;
    const root = host.attachShadow({ mode: 'open' });
    const sheet = document.createElement('style');
    sheet.textContent = WIDGET_BASE_STYLE + style;
    root.appendChild(sheet);
    document.body.appendChild(host); // in the page before the first render, which measures the message list
    build(root);
  };
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
}

/** An element: attrs `text` sets its textContent, `on…` adds a listener, any other one is an attribute. */
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children || []) node.appendChild(child);
  return node;
}

/** A stroked 24×24 SVG icon drawn from path data. */
function icon(paths) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of paths) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    svg.appendChild(path);
  }
  return svg;
}
