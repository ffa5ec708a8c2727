/*
 * actions.js: a supervisor's actions from the wallboard (views/wallboard_actions.py). A row's "⋯" button opens
 * the page's one dialog with that row's menu, fetched from the server as it stands now (the dialog lives outside
 * the pushed fragments, so a redraw does not close it). A form asks first where it must (force offline, end),
 * posts, closes the dialog and shows the answer as a notice; the board itself changes by its own push.
 * Keyboard: the native modal dialog keeps focus inside, Escape closes it, focus goes back to the row's button.
 */
(function () {
  'use strict';

  const root = document.getElementById('wb-root');
  const dialog = document.getElementById('wb-action-dialog');
  const notices = document.getElementById('wb-notices');
  if (!root || !dialog || !notices) return;
  const body = dialog.querySelector('[data-menu-body]');
  let opener = '';

  function notice(ok, message) {
    const item = document.createElement('div');
    item.className = `wb-notice ${ok ? 'is-done' : 'is-refused'}`;
    const text = document.createElement('span');
    text.textContent = message;
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.setAttribute('aria-label', 'Dismiss');
    dismiss.textContent = '×';
    dismiss.addEventListener('click', () => item.remove());
    item.append(text, dismiss);
    notices.append(item);
    setTimeout(() => item.remove(), ok ? 6000 : 12000);
  }

  function say(text) {
    const note = document.createElement('p');
    note.className = 'wb-menu-note';
    note.textContent = text;
    body.replaceChildren(note);
  }

  async function openMenu(button) {
    opener = button.dataset.menu;
    const url = new URL(`${root.dataset.actions}${opener}/menu/`, window.location.href);
    if (button.dataset.state) url.searchParams.set('state', button.dataset.state);
    say('Loading…');
    if (!dialog.open) dialog.showModal();
    try {
      const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
      const text = await response.text();
      if ((response.headers.get('content-type') || '').startsWith('text/html')) {
        body.innerHTML = text; // rendered by the server's templates, which escape what they show
      } else {
        say(text);
      }
    } catch (error) {
      say('The server did not answer: try again in a moment.');
    }
    const first = body.querySelector('select, button, a');
    if (first) first.focus();
  }

  async function submit(form) {
    for (const button of form.querySelectorAll('button')) button.disabled = true;
    let ok = false;
    let message;
    try {
      const response = await fetch(form.action, {
        method: 'POST', body: new FormData(form), credentials: 'same-origin', headers: { Accept: 'application/json' },
      });
      const json = (response.headers.get('content-type') || '').startsWith('application/json');
      const answer = json ? await response.json() : null;
      ok = Boolean(answer && answer.ok);
      message = answer ? answer.message : `The server refused it (HTTP ${response.status}): reload the page.`;
    } catch (error) {
      message = 'The server did not answer: the action may or may not have been done; the board will show.';
    }
    dialog.close();
    notice(ok, message);
  }

  function ask(button, asking) {
    const confirm = document.getElementById(button.getAttribute('aria-controls'));
    confirm.hidden = !asking;
    button.hidden = asking;
    button.setAttribute('aria-expanded', String(asking));
    (asking ? confirm.querySelector('[type=submit]') : button).focus();
  }

  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-menu]');
    if (button && root.contains(button) && !dialog.contains(button)) openMenu(button);
  });
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog || event.target.closest('[data-close]')) {
      dialog.close();
      return;
    }
    const asking = event.target.closest('[data-ask]');
    if (asking) ask(asking, true);
    const cancel = event.target.closest('[data-cancel]');
    if (cancel) ask(cancel.closest('form').querySelector('[data-ask]'), false);
  });
  dialog.addEventListener('submit', (event) => {
    event.preventDefault();
    submit(event.target);
  });
  dialog.addEventListener('close', () => {
    body.replaceChildren();
    // The row may have been redrawn meanwhile: its button now, found by what it opens.
    const button = root.querySelector(`[data-menu="${CSS.escape(opener)}"]`);
    if (button) button.focus();
  });
}());
