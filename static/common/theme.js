/*
 * theme.js: the colours every UI we draw on a company's page shares (the chat and call widgets, the SDK's
 * floating button and panel frame), so that the three look alike and change together.
 */

const COLOURS = {
  accent: '#2f6fed',
  'accent-hover': '#2459c7',
  'on-accent': '#ffffff',
  surface: '#ffffff',
  text: '#1f2430',
  'text-muted': '#667085',
  border: '#e4e7ec',
};

/** The colours as CSS custom properties named `--${prefix}${name}`, e.g. `--tccc-accent-hover: #2459c7;`. */
function colourProperties(prefix) {
  return Object.entries(COLOURS).map(([name, value]) => `--${prefix}${name}: ${value};`).join('\n');
}
