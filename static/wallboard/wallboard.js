/*
 * wallboard.js: what the wallboard's browser does itself. The figures arrive as HTML fragments over the
 * websocket (htmx's ws extension swaps them by id); this script
 *  - ticks every `data-since` (epoch ms of the server's clock) once a second, and keeps its `data-value` in
 *    whole seconds, so the server sends nothing while nothing changes;
 *  - puts changed agent rows in place (#wb-agent-patch); sorts the agent table and filters agents and sessions
 *    by skill group, again after every swap;
 *  - says whether the page is live (the connection note), and changes tenant when a superuser picks one.
 */
(function () {
  'use strict';

  const root = document.getElementById('wb-root');
  if (!root) return;

  // ---- Timers: moments are the server's (static/pages/server_clock.js) ------------------------------------

  function tick() {
    const now = window.serverClock.now();
    for (const element of root.querySelectorAll('[data-since]')) {
      const seconds = Math.max(0, Math.floor((now - Number(element.dataset.since)) / 1000));
      element.textContent = window.serverClock.format(seconds * 1000);
      if ('metric' in element.dataset) element.dataset.value = String(seconds);
    }
  }

  // ---- Sorting and filtering, again after each swap (the tables arrive whole) ----------------------------

  const filter = root.querySelector('[data-group-filter]');
  let sortKey = 'name';
  let ascending = true;

  function sortRows() {
    const table = root.querySelector('[data-sortable]');
    const body = table.tBodies[0];
    const button = table.querySelector(`[data-sort="${sortKey}"]`);
    const numeric = button && 'numeric' in button.dataset;
    const rows = Array.from(body.querySelectorAll('tr[data-user-id]'));
    const key = `sort${sortKey[0].toUpperCase()}${sortKey.slice(1)}`;
    rows.sort((a, b) => {
      const x = a.dataset[key] || '';
      const y = b.dataset[key] || '';
      const order = numeric || sortKey === 'status' ? Number(x) - Number(y) : x.localeCompare(y);
      return (ascending ? order : -order) || a.dataset.sortName.localeCompare(b.dataset.sortName);
    });
    for (const row of rows) body.appendChild(row);
    for (const header of table.querySelectorAll('th')) header.removeAttribute('aria-sort');
    if (button) button.closest('th').setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
  }

  function filterRows() {
    const group = filter ? filter.value : '';
    for (const row of root.querySelectorAll('#wb-agents tr[data-groups], #wb-live tr[data-groups]')) {
      row.hidden = Boolean(group) && !row.dataset.groups.split(' ').includes(group);
    }
    for (const row of root.querySelectorAll('#wb-queues tr[data-skill-group-id]')) {
      row.classList.toggle('is-picked', row.dataset.skillGroupId === group);
    }
  }

  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-sort]');
    if (!button) return;
    if (sortKey === button.dataset.sort) {
      ascending = !ascending;
    } else {
      sortKey = button.dataset.sort;
      ascending = true; // "In status" sorts by the moment it began: the longest first
    }
    sortRows();
  });
  if (filter) filter.addEventListener('change', filterRows);

  const tenantSelect = root.querySelector('[data-tenant-select]');
  if (tenantSelect) {
    tenantSelect.addEventListener('change', () => { tenantSelect.form.submit(); });
  }

  // Agent rows that changed arrive in #wb-agent-patch's data-rows (a row outside a table would not parse):
  // each replaces the row of its data-user-id.
  function applyRowPatch() {
    const patch = document.getElementById('wb-agent-patch');
    if (!patch || !patch.dataset.rows) return;
    const holder = document.createElement('template');
    holder.innerHTML = patch.dataset.rows;
    delete patch.dataset.rows;
    for (const row of holder.content.querySelectorAll('tr[data-user-id]')) {
      const shown = root.querySelector(`#wb-agents tr[data-user-id="${CSS.escape(row.dataset.userId)}"]`);
      if (shown) shown.replaceWith(row);
    }
  }

  function afterSwap() {
    applyRowPatch();
    tick();
    sortRows();
    filterRows();
  }

  // ---- Connection note ------------------------------------------------------------------------------------

  const note = root.querySelector('[data-connection]');
  function connection(state, text) {
    root.dataset.connection = state;
    if (note) note.textContent = text;
  }
  document.addEventListener('htmx:wsOpen', () => connection('live', 'Live'));
  document.addEventListener('htmx:wsClose', (event) => {
    const code = event.detail.event && event.detail.event.code;
    if (code === 4003) {
      connection('refused', 'Not signed in for this tenant: reload the page.');
    } else {
      connection('lost', 'Connection lost. Reconnecting…');
    }
  });
  document.addEventListener('htmx:wsAfterMessage', afterSwap);

  afterSwap();
  setInterval(tick, 1000);
}());
