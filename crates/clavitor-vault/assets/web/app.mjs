// The Clavitor owner web vault: a small single-page app, no framework, no
// inline script (CSP), no secret in localStorage/IndexedDB/URLs. This file
// routes and holds the setup and sign-in pages; each other page is a module.

import * as api from './api.mjs';
import * as webauthn from './webauthn.mjs';
import * as unlock from './unlock.mjs';
import { h, errorText, page, fail } from './dom.mjs';
import { entriesPage } from './entries.mjs';
import { agentsPage } from './agents.mjs';
import { auditPage } from './audit.mjs';
import { passkeysPage } from './passkeys.mjs';

const nav = document.getElementById('nav');
let session = { stage: 'none', passkeys: 0, vault_id: '' };

const routes = {
  '/setup': setupPage,
  '/login': loginPage,
  '/entries': entriesPage,
  '/agents': agentsPage,
  '/audit': auditPage,
  '/passkeys': passkeysPage,
};

function go(path) {
  if (location.pathname !== path) history.pushState({}, '', path);
  render();
}

async function refreshSession() {
  session = await api.get('/v1/web/session');
  api.setCsrf(session.csrf);
  nav.hidden = session.stage !== 'owner';
}

async function render() {
  try {
    await refreshSession();
  } catch (e) {
    page('Vault unavailable', h('p', { class: 'error' }, errorText(e)));
    return;
  }
  let path = location.pathname;
  if (path === '/setup' && session.stage !== 'owner') return setupPage();
  if (session.stage !== 'owner') {
    if (path !== '/login') history.replaceState({}, '', '/login');
    return loginPage();
  }
  if (!routes[path] || path === '/login' || path === '/setup') {
    path = '/entries';
    history.replaceState({}, '', path);
  }
  try {
    await routes[path]();
  } catch (e) {
    page('Something went wrong', h('p', { class: 'error' }, errorText(e)));
  }
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-link]');
  if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
    ev.preventDefault();
    go(a.getAttribute('href'));
  }
});
window.addEventListener('popstate', render);
document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.post('/v1/web/logout');
  } finally {
    api.setCsrf(null);
    go('/login');
  }
});

// ---- setup -------------------------------------------------------------------

async function setupPage() {
  const token = location.hash.slice(1);
  const status = h('p', { id: 'setup-status', class: 'muted', role: 'status' });
  const button = h('button', { class: 'primary', id: 'setup-passkey', type: 'button' }, 'Create passkey');
  const name = h('input', { id: 'passkey-name', value: 'My passkey', 'aria-label': 'Passkey name' });
  const withRecovery = h('input', { type: 'checkbox', id: 'setup-recovery', checked: true });
  page(
    'Set up your vault',
    h('div', { class: 'card' },
      h('p', {}, 'Your vault is opened with a passkey only: your fingerprint, face or security key. ',
        'The passkey also unlocks your personal key, which encrypts personal fields in this browser: ',
        'the server stores only ciphertext.'),
      h('div', { class: 'row' }, h('label', {}, 'Passkey name', name), button),
      h('label', { class: 'inline' }, withRecovery, 'Also create a printed recovery code (recommended: it opens personal fields if you lose your passkey)'),
      status),
  );
  if (!webauthn.supported()) {
    status.textContent = 'This browser does not support passkeys.';
    button.disabled = true;
    return;
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.className = 'muted';
    try {
      if (session.stage === 'none') {
        if (!token) throw new Error('Open the one-time setup link printed by `clavitor serve`.');
        const opened = await api.post('/v1/web/setup', { token });
        api.setCsrf(opened.csrf);
        history.replaceState({}, '', '/setup');
      }
      status.textContent = 'Touch your passkey…';
      const start = await api.post('/v1/web/passkeys/register/start', { name: name.value });
      const reg = await webauthn.create(start.options, start.prf_salt);
      const done = await api.post('/v1/web/passkeys/register/finish', {
        ceremony: start.ceremony,
        credential: reg.json,
        prf_capable: reg.prf.enabled,
      });
      api.setCsrf(done.csrf);
      await refreshSession();
      let prf = reg.prf.output;
      if (!prf && reg.prf.enabled) {
        status.textContent = 'Touch your passkey once more to create your personal key…';
        prf = (await webauthn.prfOnly(reg.id, start.prf_salt, location.hostname)).output;
      }
      if (!prf) {
        page('Passkey registered',
          h('div', { class: 'card' },
            h('p', { id: 'no-prf' }, 'This passkey or browser does not support the PRF extension, so no personal key was created. ',
              'You can manage info and shared fields now; personal fields (cards, IDs, recovery codes) need a PRF-capable passkey, ',
              'which you can add later on the Passkeys page.'),
            h('a', { href: '/entries', 'data-link': true, class: 'button primary', id: 'go-entries' }, 'Go to entries')));
        return;
      }
      const code = await unlock.create(session.vault_id, prf, reg.id, withRecovery.checked);
      prf.fill(0);
      page('Your vault is ready',
        h('div', { class: 'card', id: 'setup-done' },
          h('p', {}, 'Passkey registered and personal key created.'),
          code
            ? [h('h2', {}, 'Recovery code'),
              h('p', {}, 'Write this code down and keep it offline. It unlocks your personal fields if you lose your passkey. It is shown only once.'),
              h('pre', { class: 'token', id: 'recovery-code' }, code)]
            : h('p', { class: 'warn', id: 'no-recovery' }, 'No recovery code: your passkey is the only way to open personal fields. Add a second passkey or a recovery code on the Passkeys page.'),
          h('a', { href: '/entries', 'data-link': true, class: 'button primary', id: 'go-entries' }, 'Go to entries')));
    } catch (e) {
      fail(status, e);
      button.disabled = false;
    }
  });
}

// ---- sign in -----------------------------------------------------------------

async function loginPage() {
  const status = h('p', { id: 'login-status', class: 'muted', role: 'status' });
  const button = h('button', { class: 'primary', id: 'login', type: 'button' }, 'Sign in with passkey');
  page('Sign in', h('div', { class: 'card' },
    session.passkeys === 0
      ? h('p', {}, 'No passkey is enrolled yet: open the one-time setup link printed by `clavitor serve`.')
      : h('p', {}, 'Use your passkey to open the vault.'),
    button, status));
  button.disabled = session.passkeys === 0;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      status.textContent = 'Touch your passkey…';
      const start = await api.post('/v1/web/login/start');
      const a = await webauthn.get(start.options);
      const opened = await api.post('/v1/web/login/finish', { ceremony: start.ceremony, credential: a.json });
      api.setCsrf(opened.csrf);
      go('/entries');
    } catch (e) {
      fail(status, e);
      button.disabled = false;
    }
  });
}

render();
