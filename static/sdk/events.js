/*
 * events.js: `tccc.on`, `tccc.off`, `tccc.events`, and emitting.
 *
 * Handlers get the event's data as their only argument. A handler that throws (or returns a promise that
 * rejects) is logged with console.error and does not stop the others. Like Tencent's SDK, registering a
 * handler for an event that already fired (`ready`) does not replay it.
 */

/** `tccc.events`: each event name mapped to itself, e.g. `tccc.events.callIn === 'callIn'`. */
function eventNameMap(names) {
  const map = {};
  for (const name of names) map[name] = name;
  return Object.freeze(map);
}

/**
 * Returns { on, off, emit, observe }. `observe(fn)` registers an internal observer called as fn(name, data)
 * for every event before the host's handlers; the host's `off` cannot remove it.
 */
function createEmitter(knownNames) {
  const known = new Set(knownNames);
  const handlers = new Map(); // name → Set of handlers, in registration order
  const observers = [];

  function on(name, handler) {
    if (typeof name !== 'string' || !name) {
      console.error('tccc.on: the event name must be a string, e.g. tccc.events.callIn; got', name);
      return;
    }
    if (typeof handler !== 'function') {
      console.error(`tccc.on("${name}"): the handler must be a function`);
      return;
    }
    if (!known.has(name)) console.warn(`tccc.on: "${name}" is not an event of this SDK`);
    if (!handlers.has(name)) handlers.set(name, new Set());
    handlers.get(name).add(handler);
  }

  /** Removes one handler, or every handler of that event when none is given. */
  function off(name, handler) {
    const registered = handlers.get(name);
    if (!registered) return;
    if (handler === undefined) registered.clear();
    else registered.delete(handler);
  }

  function emit(name, data) {
    for (const observer of observers) invoke(observer, name, [name, data]);
    const registered = handlers.get(name);
    if (!registered) return;
    // A snapshot, so that handlers added during this emit wait for the next one;
    // the `has` check skips handlers removed by an earlier handler of this emit (as addEventListener does).
    for (const handler of [...registered]) {
      if (registered.has(handler)) invoke(handler, name, [data]);
    }
  }

  function invoke(fn, name, args) {
    try {
      const result = fn(...args);
      if (result && typeof result.then === 'function') {
        result.then(undefined, (err) => console.error(`tccc: a handler of "${name}" failed`, err));
      }
    } catch (err) {
      console.error(`tccc: a handler of "${name}" threw`, err);
    }
  }

  function observe(fn) {
    observers.push(fn);
  }

  return { on, off, emit, observe };
}
