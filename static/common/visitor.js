/*
 * visitor.js: the visitor id the server gives a browser, by which it counts the visitor's chats, calls and
 * messages. The chat and call widgets keep the same one in localStorage: one visitor per browser and company.
 */

function visitorIdStore(sdkAppId) {
  const key = `tccc-visitor:${sdkAppId}`;
  return {
    get() { try { return localStorage.getItem(key) || ''; } catch (err) { return ''; } },
    set(value) { try { localStorage.setItem(key, value); } catch (err) { /* a new one next time */ } },
  };
}
