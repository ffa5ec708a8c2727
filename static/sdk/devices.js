/*
 * devices.js: `tccc.Devices`.
 *
 * The lists resolve MediaDeviceInfo objects and never reject. Browsers hide device labels until the page has
 * microphone permission, so when every label is empty the SDK asks for the microphone once (stopping the tracks
 * at once) and lists again; if permission is refused or never answered, it resolves the unlabeled list.
 */

// How long a device list waits for the user to answer the permission prompt before resolving unlabeled.
const PERMISSION_WAIT_MS = 30000;

function createDevices() {
  let permissionRequest = null; // shared, so getMicrophones() and getSpeakers() together prompt once

  /**
   * Tencent supports Chrome 56+ and Chromium Edge 80+, read from the user agent. Everything else is false: legacy
   * EdgeHTML, Firefox, Safari (and Chrome on iOS, which is Safari inside), and the other Chromium-based browsers
   * that also write "Chrome/" in their user agent (Opera, Samsung Internet, Yandex, UC, Edge for mobile).
   */
  function isBrowserSupported() {
    const ua = (typeof navigator !== 'undefined' && navigator.userAgent) || '';
    if (/\bEdge\/\d+/.test(ua)) return false; // legacy Edge also says "Chrome/"
    const edge = /\bEdg\/(\d+)/.exec(ua);
    if (edge) return Number(edge[1]) >= 80;
    if (/\b(OPR|OPT|Opera|SamsungBrowser|YaBrowser|UCBrowser|EdgA|EdgiOS)\//.test(ua)) return false;
    const chrome = /\b(?:Headless)?Chrome\/(\d+)/.exec(ua);
    return chrome ? Number(chrome[1]) >= 56 : false;
  }

  function askMicrophonePermission(media) {
    if (permissionRequest) return permissionRequest;
    permissionRequest = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), PERMISSION_WAIT_MS);
      let asked;
      try {
        asked = media.getUserMedia({ audio: true });
      } catch (err) {
        asked = Promise.reject(err);
      }
      Promise.resolve(asked).then(
        (stream) => {
          for (const track of stream.getTracks()) track.stop();
          clearTimeout(timer);
          resolve(true);
        },
        (err) => {
          console.warn('tccc: no microphone permission, so device labels are unavailable:', err && err.name);
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
    permissionRequest.then(() => {
      permissionRequest = null;
    });
    return permissionRequest;
  }

  async function listDevices(kind) {
    const media = typeof navigator !== 'undefined' ? navigator.mediaDevices : undefined;
    if (!media || typeof media.enumerateDevices !== 'function') return []; // e.g. a page not served over https
    let devices = [];
    try {
      devices = (await media.enumerateDevices()).filter((device) => device.kind === kind);
      if (devices.length && devices.every((device) => !device.label) && typeof media.getUserMedia === 'function') {
        if (await askMicrophonePermission(media)) {
          devices = (await media.enumerateDevices()).filter((device) => device.kind === kind);
        }
      }
    } catch (err) {
      console.error('tccc: cannot list media devices', err);
    }
    return devices;
  }

  return {
    isBrowserSupported,
    getMicrophones: () => listDevices('audioinput'),
    getSpeakers: () => listDevices('audiooutput'),
  };
}
