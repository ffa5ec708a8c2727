/*
 * events.js: a widget's events (`tcccChat.on`, `tcccCall.on`...): on(name, handler) and off(name, handler) for the
 * widget's own event names only, and `events`, each name mapped to itself. A failing handler is logged and does
 * not stop the others.
 */

function createWidgetEvents(names, label) {
  const handlers = new Map(names.map((name) => [name, new Set()]));

  function emit(name, data) {
    for (const handler of [...handlers.get(name)]) {
      try {
        handler(data);
      } catch (err) {
        console.error(`${label}: a ${name} handler failed`, err);
      }
    }
  }

  return {
    emit,
    events: Object.fromEntries(names.map((name) => [name, name])),
    on(name, handler) {
      if (handlers.has(name) && typeof handler === 'function') handlers.get(name).add(handler);
    },
    off(name, handler) {
      if (handlers.has(name)) handlers.get(name).delete(handler);
    },
  };
}
