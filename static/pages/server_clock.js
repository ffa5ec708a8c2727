/* Timers on the pages the server pushes HTML to (the workbench, the wallboard): moments are the server's epoch
 * milliseconds, and #wb-clock carries the server's time with every message, so the offset absorbs a PC clock
 * that is off. Loaded before each page's own script, which reads `window.serverClock`. */
(function () {
  'use strict';

  let offset = 0;

  /** The server's time now, in epoch milliseconds. */
  function now() {
    const element = document.getElementById('wb-clock');
    const serverNow = element && Number(element.dataset.now);
    if (serverNow && element.dataset.read !== 'true') {
      element.dataset.read = 'true';
      offset = serverNow - Date.now();
    }
    return Date.now() + offset;
  }

  /** A duration as m:ss, or h:mm:ss from an hour on. */
  function format(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, '0');
    return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
  }

  window.serverClock = { now, format };
})();
