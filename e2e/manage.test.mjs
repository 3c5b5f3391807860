// The web vault's management flows in a real headless Chromium against the
// real `clavitor serve`: entry templates, edit, history and the two-tab
// conflict; agent edit with per-field grants and expiry; passkeys added,
// renamed and removed (the last unlock method refused); the recovery-code
// unlock; an authenticator without PRF; the one-unlock-method warning.
//
// Several virtual authenticators share one page; which one answers a
// ceremony is chosen by switching their simulated user presence
// (CDP WebAuthn.setAutomaticPresenceSimulation).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { checkPrerequisites, launchBrowser, Vault, newPage, addAuthenticator, shot } from './harness.mjs';

let browser;
const vaults = [];

before(async () => {
  checkPrerequisites();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  for (const v of vaults) v.stop();
});

async function startVault() {
  const v = await new Vault().start();
  vaults.push(v);
  return v;
}

/** Only `active` answers ceremonies from now on. */
async function only(cdp, all, active) {
  for (const id of all) {
    await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: id, enabled: id === active });
  }
}

const entryJson = (page, name) => page.evaluate((n) => fetch(`/v1/web/entry?name=${encodeURIComponent(n)}`).then((r) => r.json()), name);

async function openEntry(page, name) {
  await page.click('nav a[href="/entries"]');
  await page.waitForSelector('#new-entry');
  await page.click(`#entries a:text-is("${name}")`);
  await page.waitForSelector(`#entry-card h2:has-text("${name}")`);
}

test('entries, agents and passkeys managed in the page (PRF passkeys, recovery code)', async (t) => {
  const vault = await startVault();
  const { page, cdp, authenticatorId: laptop } = await newPage(browser);
  const authenticators = [laptop];
  const CARD = `4111-CANARY-${Math.random().toString(36).slice(2, 8)}`;
  let recovery;

  await t.test('setup with a recovery code', async () => {
    await page.goto(vault.setupLink);
    assert.ok(await page.isChecked('#setup-recovery'));
    await page.click('#setup-passkey');
    await page.waitForSelector('#recovery-code', { timeout: 20000 });
    recovery = (await page.textContent('#recovery-code')).trim();
    assert.match(recovery, /^([A-Z2-9]{5}-){4}[A-Z2-9]{5}$/);
    await page.click('#go-entries');
  });

  await t.test('a card entry starts from its template, with personal tiers by label', async () => {
    await page.click('#new-entry');
    await page.fill('#entry-name', 'Visa');
    await page.selectOption('#entry-kind', 'card');
    const rows = page.locator('#entry-fields .field-row');
    const labels = await rows.locator('.f-label').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(labels, ['cardholder', 'card_number', 'expiry', 'cvv', 'pin']);
    const tiers = await rows.locator('.f-tier').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(tiers, ['info', 'personal', 'info', 'personal', 'personal']);
    await rows.nth(0).locator('.f-value').fill('ADA LOVELACE');
    await rows.nth(1).locator('.f-value').fill(CARD);
    await rows.nth(2).locator('.f-value').fill('12/29');
    await rows.nth(3).locator('.f-value').fill('123');
    await rows.nth(4).locator('.f-remove').click();
    await page.click('#save-entry');
    await page.waitForSelector('#entry-card h2:has-text("Visa")');
    const v = await entryJson(page, 'Visa');
    assert.deepEqual(v.fields.map((f) => [f.label, f.tier]), [['cardholder', 'info'], ['card_number', 'personal'], ['expiry', 'info'], ['cvv', 'personal']]);
    assert.equal(v.kind, 'card');
    await page.click('#reveal-personal');
    await page.waitForFunction((c) => document.querySelector('[data-field="card_number"]')?.firstChild?.textContent === c, CARD, { timeout: 15000 });
    // Copy puts the value on the clipboard (and nowhere else).
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: vault.origin });
    await page.click('[data-field="card_number"] button.copy');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), CARD);
  });

  await t.test('an api entry with a per-field host pattern', async () => {
    await page.click('nav a[href="/entries"]');
    await page.click('#new-entry');
    await page.fill('#entry-name', 'OpenAI');
    await page.selectOption('#entry-kind', 'api');
    const rows = page.locator('#entry-fields .field-row');
    await rows.nth(0).locator('.f-value').fill('sk-openai-one');
    await rows.nth(0).locator('.f-hosts').fill('api.openai.com');
    await rows.nth(1).locator('.f-value').fill('https://platform.openai.com');
    await page.click('#save-entry');
    await page.waitForSelector('#entry-card h2:has-text("OpenAI")');
    const v = await entryJson(page, 'OpenAI');
    assert.deepEqual(v.fields.find((f) => f.label === 'api_key').hosts, ['api.openai.com']);
    assert.equal(v.fields.find((f) => f.label === 'api_key').tier, 'shared');
    assert.equal(v.rev, 1);
  });

  await t.test('two tabs edit OpenAI: the second save shows the conflict and merges on top', async () => {
    const tab2 = await page.context().newPage();
    await tab2.goto(`${vault.origin}/entries`);
    for (const p of [page, tab2]) {
      await openEntry(p, 'OpenAI');
      await p.click('#edit-entry');
      await p.waitForSelector('#entry-form');
    }
    // Tab 2 changes the URL and saves first.
    await tab2.locator('.field-row[data-label="url"] .f-value').fill('https://example.org/openai');
    await tab2.click('#save-entry');
    await tab2.waitForSelector('#entry-rev:has-text("rev 2")');
    // Tab 1 adds a field and makes the key inject-only, from revision 1.
    await page.click('#add-field');
    const added = page.locator('#entry-fields .field-row').last();
    await added.locator('.f-label').fill('org');
    await added.locator('.f-value').fill('org-42');
    await page.locator('.field-row[data-label="api_key"] .f-inject').check();
    await page.click('#save-entry');
    await page.waitForSelector('#entry-conflict [role="alert"]');
    const text = await page.textContent('#entry-conflict');
    assert.match(text, /revision 2/);
    assert.match(text, /Your edits are still in this form/);
    assert.equal((await entryJson(page, 'OpenAI')).rev, 2, 'nothing saved by the stale form');
    await page.click('#conflict-apply');
    await page.waitForSelector('#entry-rev:has-text("rev 3")');
    const v = await entryJson(page, 'OpenAI');
    assert.deepEqual(v.fields.map((f) => f.label), ['api_key', 'url', 'org']);
    assert.equal(v.fields.find((f) => f.label === 'url').value, 'https://example.org/openai', 'tab 2 change kept');
    assert.equal(v.fields.find((f) => f.label === 'org').value, 'org-42');
    assert.ok(v.fields.find((f) => f.label === 'api_key').inject_only);
    const revealed = await vault.owner(['entry', 'show', 'OpenAI', '--reveal', '--json']);
    assert.equal(revealed.status, 0, revealed.stderr);
    assert.ok(revealed.stdout.includes('sk-openai-one'), 'the key value was kept through metadata edits');
    await tab2.close();
  });

  await t.test('history lists every revision; a tier change without the value is refused in the form', async () => {
    await page.click('#entry-history');
    await page.waitForSelector('#history');
    const revs = await page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.rev));
    assert.deepEqual(revs, ['3', '2', '1']);
    assert.match(await page.textContent('#history tr[data-rev="3"]'), /api_key, url, org/);
    await page.click('#edit-entry');
    await page.locator('.field-row[data-label="url"] .f-tier').selectOption('shared');
    await page.click('#save-entry');
    await page.waitForSelector('#entry-status.error');
    assert.match(await page.textContent('#entry-status'), /Enter the value of url again to change its tier/);
    assert.equal((await entryJson(page, 'OpenAI')).rev, 3);
    await shot(page, 'entry-edit');
  });

  await t.test('agent create with a per-field grant, then edit limits, grants and expiry', async () => {
    await page.click('nav a[href="/agents"]');
    await page.waitForSelector('#agent-form');
    await page.fill('#agent-name', 'Codex');
    await page.check('input.agent-entry[value="OpenAI"]');
    await page.uncheck('input.agent-field[data-entry="OpenAI"][value="api_key"]');
    await page.uncheck('input.agent-field[data-entry="OpenAI"][value="url"]');
    // Personal fields are never offered.
    await page.check('input.agent-entry[value="Visa"]');
    const visaFields = await page.locator('input.agent-field[data-entry="Visa"]').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(visaFields, ['cardholder', 'expiry']);
    await page.uncheck('input.agent-entry[value="Visa"]');
    await page.click('#create-agent');
    await page.waitForSelector('#agent-token');
    const token = (await page.textContent('#agent-token')).trim();
    assert.equal(vault.cli(['init'], `${token}\n`).status, 0);
    assert.equal(vault.cli(['get', 'OpenAI', '--field', 'org']).stdout, 'org-42\n');
    assert.match(vault.cli(['get', 'OpenAI', '--field', 'url']).stderr, /CV-2041: Access denied\./);
    assert.match(await page.textContent('tr[data-agent="Codex"] .grants-cell'), /OpenAI \(org\)/);

    await page.click('tr[data-agent="Codex"] .edit-agent');
    await page.waitForSelector('#agent-edit-form');
    await page.fill('#edit-minute', '5');
    await page.fill('#edit-hour', '20');
    await page.check('#agent-edit-form input.agent-field[data-entry="OpenAI"][value="url"]');
    await page.selectOption('#edit-expiry-mode', 'days');
    await page.fill('#edit-expiry-days', '2');
    await page.click('#save-agent');
    await page.waitForSelector('tr[data-agent="Codex"] .limits-cell:has-text("5/min, 20/h")');
    assert.match(await page.textContent('tr[data-agent="Codex"]'), /expires/);
    assert.match(await page.textContent('tr[data-agent="Codex"] .grants-cell'), /OpenAI \(url, org\)/);
    assert.equal(vault.cli(['get', 'OpenAI', '--field', 'url']).stdout, 'https://example.org/openai\n');
    const shown = JSON.parse(vault.owner(['agent', 'show', 'Codex', '--json']).stdout);
    assert.ok(shown.expires_at > Date.now() + 86400000 && shown.expires_at < Date.now() + 3 * 86400000);
    // Removing the expiry.
    await page.click('tr[data-agent="Codex"] .edit-agent');
    await page.selectOption('#edit-expiry-mode', 'never');
    await page.click('#save-agent');
    await page.waitForFunction(() => !/expires/.test(document.querySelector('tr[data-agent="Codex"]')?.textContent || 'expires'));
    assert.equal(JSON.parse(vault.owner(['agent', 'show', 'Codex', '--json']).stdout).expires_at ?? null, null);
  });

  let phone;
  await t.test('add a second passkey: a tap of the current one, then the new one; it unlocks personal fields', async () => {
    await page.click('nav a[href="/passkeys"]');
    await page.waitForSelector('#passkeys tr');
    await page.click('#passkeys tr .rename-passkey');
    await page.fill('.rename-input', 'Laptop');
    await page.press('.rename-input', 'Enter');
    await page.waitForSelector('tr[data-passkey="Laptop"]');
    await page.fill('#new-passkey-name', 'Phone');
    await page.click('#add-passkey-confirm');
    await page.waitForSelector('#add-passkey-create');
    phone = await addAuthenticator(cdp);
    authenticators.push(phone);
    await only(cdp, authenticators, phone);
    await page.click('#add-passkey-create');
    await page.waitForSelector('#passkey-added', { timeout: 20000 });
    assert.match(await page.textContent('#passkey-added'), /unlocks your personal fields too/);
    assert.equal(await page.textContent('tr[data-passkey="Phone"] .unlocks'), 'yes');
    assert.equal(await page.textContent('tr[data-passkey="Laptop"] .unlocks'), 'yes');
    await shot(page, 'passkeys');
  });

  await t.test('adding a passkey without a step-up tap is refused', async () => {
    const status = await page.evaluate(async () => {
      const { csrf } = await fetch('/v1/web/session').then((r) => r.json());
      const r = await fetch('/v1/web/passkeys/register/start', { method: 'POST', headers: { 'content-type': 'application/json', 'x-clavitor-csrf': csrf }, body: JSON.stringify({ name: 'Thief' }) });
      return [r.status, (await r.json()).code];
    });
    assert.deepEqual(status, [403, 'CV-1008']);
  });

  await t.test('a session alone cannot overwrite the wraps of the personal key', async () => {
    const answers = await page.evaluate(async () => {
      const { csrf } = await fetch('/v1/web/session').then((r) => r.json());
      const key = await fetch('/v1/web/personal-key').then((r) => r.json());
      const post = (wrap) => fetch('/v1/web/personal-key', { method: 'POST', headers: { 'content-type': 'application/json', 'x-clavitor-csrf': csrf },
        body: JSON.stringify({ public_key: key.public_key, wrap: { ...wrap, ct: 'AAAA' } })}).then(async (r) => [r.status, (await r.json()).code]);
      const out = [];
      for (const w of key.wraps) out.push(await post(w));
      // Nor plant a wrap for a passkey it did not just register, or a second "recovery" wrap.
      const planted = [await post({ v: 1, kind: 'passkey', credential: 'not-registered-here', iv: 'AAAA' }),
        await post({ v: 1, kind: 'recovery', credential: 'other', iv: 'AAAA' })];
      const after = await fetch('/v1/web/personal-key').then((r) => r.json());
      return { out, planted, same: JSON.stringify(after.wraps) === JSON.stringify(key.wraps), kinds: key.wraps.map((w) => w.kind) };
    });
    assert.deepEqual([...answers.kinds].sort(), ['passkey', 'passkey', 'recovery']);
    assert.deepEqual(answers.planted, [[403, 'CV-1008'], [400, 'CV-1001']]);
    for (const [i, kind] of answers.kinds.entries()) {
      assert.deepEqual(answers.out[i], kind === 'recovery' ? [403, 'CV-1008'] : [409, 'CV-1003']);
    }
    assert.ok(answers.same, 'no wrap changed');
  });

  await t.test('remove the first passkey with the second; the last one is refused with CV-1010', async () => {
    // A removal assertion is bound to the passkey it names.
    const crossed = await page.evaluate(async () => {
      const { get } = await import('/assets/webauthn.mjs');
      const { csrf } = await fetch('/v1/web/session').then((r) => r.json());
      const list = await fetch('/v1/web/passkeys').then((r) => r.json());
      const [a, b] = list.map((p) => p.id);
      const post = (p, body) => fetch(p, { method: 'POST', headers: { 'content-type': 'application/json', 'x-clavitor-csrf': csrf }, body: JSON.stringify(body) });
      const start = await post('/v1/web/assert/start', { purpose: 'passkey', action: `remove:${a}` }).then((r) => r.json());
      const as = await get(start.options);
      const r = await post('/v1/web/passkey/remove', { id: b, ceremony: start.ceremony, credential: as.json });
      return [r.status, (await r.json()).code, (await fetch('/v1/web/passkeys').then((x) => x.json())).length];
    });
    assert.deepEqual(crossed, [403, 'CV-1008', 2]);
    page.on('dialog', (d) => d.accept());
    await page.click('tr[data-passkey="Laptop"] .remove-passkey');
    await page.waitForFunction(() => !document.querySelector('tr[data-passkey="Laptop"]'), null, { timeout: 20000 });
    const key = await page.evaluate(() => fetch('/v1/web/personal-key').then((r) => r.json()));
    assert.deepEqual(key.wraps.map((w) => w.kind).sort(), ['passkey', 'recovery'], 'the removed passkey\'s wrap went with it');
    await page.click('tr[data-passkey="Phone"] .remove-passkey');
    await page.waitForSelector('#passkeys-status.error');
    assert.match(await page.textContent('#passkeys-status'), /CV-1010/);
    assert.equal(await page.locator('#passkeys tr').count(), 1);
  });

  await t.test('a passkey without PRF signs in and reveals personal fields with the recovery code', async () => {
    await page.click('#add-passkey-confirm');
    await page.waitForSelector('#add-passkey-create');
    const key = await addAuthenticator(cdp, { prf: false });
    authenticators.push(key);
    await only(cdp, authenticators, key);
    await page.fill('#new-passkey-name', 'Security key');
    await page.click('#add-passkey-create');
    await page.waitForSelector('#passkey-added', { timeout: 20000 });
    assert.match(await page.textContent('#passkey-added'), /no PRF support/);
    assert.equal(await page.textContent('tr[data-passkey="Security key"] .unlocks'), 'no');
    // The phone is still the last passkey that unlocks the personal key.
    await page.click('tr[data-passkey="Phone"] .remove-passkey');
    await page.waitForSelector('#passkeys-status.error');
    assert.match(await page.textContent('#passkeys-status'), /CV-1010/);
    // Sign in again with the security key alone.
    await page.click('#logout');
    await page.waitForSelector('#login');
    await page.click('#login');
    await page.waitForSelector('#new-entry');
    await openEntry(page, 'Visa');
    await page.click('#reveal-personal');
    await page.waitForSelector('#recovery-form');
    await page.fill('#recovery-input', 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE');
    await page.click('#recovery-submit');
    await page.waitForSelector('#detail-status.error');
    assert.match(await page.textContent('#detail-status'), /recovery code does not unlock/);
    await page.click('#reveal-personal');
    await page.waitForSelector('#recovery-form');
    // Typed in lower case without dashes: still the code.
    await page.fill('#recovery-input', recovery.toLowerCase().replaceAll('-', ' '));
    await page.click('#recovery-submit');
    await page.waitForFunction((c) => document.querySelector('[data-field="card_number"]')?.firstChild?.textContent === c, CARD, { timeout: 15000 });
    // A passkey that unlocks nothing can always be removed (a lost security key), personal fields or not.
    await page.click('nav a[href="/passkeys"]');
    await page.click('tr[data-passkey="Security key"] .remove-passkey');
    await page.waitForFunction(() => !document.querySelector('tr[data-passkey="Security key"]'), null, { timeout: 20000 });
    assert.equal(await page.locator('#passkeys tr').count(), 1);
  });

  await t.test('nothing personal or secret reached the data dir or the logs', async () => {
    for (const f of readdirSync(vault.dataDir)) {
      const bytes = readFileSync(path.join(vault.dataDir, f));
      for (const s of [CARD, recovery, 'sk-openai-one']) assert.ok(!bytes.includes(Buffer.from(s)), `${s} in ${f}`);
    }
    for (const s of [CARD, recovery, 'sk-openai-one']) assert.ok(!vault.out.includes(s), `${s} in the server log`);
    const audit = vault.owner(['audit']).stdout;
    for (const a of ['passkey.register', 'passkey.rename', 'passkey.remove', 'entry.update', 'agent.update']) assert.match(audit, new RegExp(a));
  });
});

test('an authenticator without PRF: info and shared fields work; a PRF passkey added later creates the personal key', async (t) => {
  const vault = await startVault();
  const { page, cdp, authenticatorId: plain, bodies } = await newPage(browser, { prf: false });
  const authenticators = [plain];
  const SECRET = `CANARY-iban-${Math.random().toString(36).slice(2, 8)}`;

  await t.test('setup explains the missing PRF and creates no personal key', async () => {
    await page.goto(vault.setupLink);
    await page.click('#setup-passkey');
    await page.waitForSelector('#no-prf', { timeout: 20000 });
    assert.match(await page.textContent('#no-prf'), /does not support the PRF extension/);
    const key = await page.evaluate(() => fetch('/v1/web/personal-key').then((r) => r.json()));
    assert.equal(key.public_key ?? null, null);
    await page.click('#go-entries');
  });

  await t.test('shared fields save; a personal field gets a clear explanation and nothing is written', async () => {
    await page.click('#new-entry');
    await page.fill('#entry-name', 'Server');
    const rows = page.locator('#entry-fields .field-row');
    await rows.nth(0).locator('.f-value').fill('root');
    await rows.nth(1).locator('.f-value').fill('hunter2-server');
    await page.click('#save-entry');
    await page.waitForSelector('#entry-card h2:has-text("Server")');
    await page.click('#new-entry');
    await page.fill('#entry-name', 'Bank');
    await rows.nth(0).locator('.f-label').fill('iban');
    await rows.nth(0).locator('.f-value').fill(SECRET);
    await rows.nth(1).locator('.f-remove').click();
    await page.click('#save-entry');
    await page.waitForSelector('#entry-status.error');
    assert.match(await page.textContent('#entry-status'), /PRF-capable passkey/);
    const names = await page.evaluate(() => fetch('/v1/web/entries').then((r) => r.json()).then((l) => l.map((e) => e.name)));
    assert.deepEqual(names, ['Server']);
  });

  await t.test('a PRF passkey added later creates the personal key (no recovery code asked for)', async () => {
    await page.click('nav a[href="/passkeys"]');
    await page.waitForSelector('#no-personal-key');
    await page.uncheck('#new-passkey-recovery');
    await page.click('#add-passkey-confirm');
    await page.waitForSelector('#add-passkey-create');
    const prf = await addAuthenticator(cdp);
    authenticators.push(prf);
    await only(cdp, authenticators, prf);
    await page.click('#add-passkey-create');
    await page.waitForSelector('#passkey-added', { timeout: 20000 });
    assert.match(await page.textContent('#passkey-added'), /personal key created/);
    assert.match(await page.textContent('#personal-key-status'), /1 unlock method/);
  });

  await t.test('with one unlock method, saving a personal field warns first', async () => {
    await page.click('nav a[href="/entries"]');
    const fill = async () => {
      await page.click('#new-entry');
      await page.fill('#entry-name', 'Bank');
      const rows = page.locator('#entry-fields .field-row');
      await rows.nth(0).locator('.f-label').fill('iban');
      await rows.nth(0).locator('.f-value').fill(SECRET);
      await rows.nth(1).locator('.f-remove').click();
    };
    await fill();
    const seen = [];
    page.once('dialog', (d) => { seen.push(d.message()); d.dismiss(); });
    await page.click('#save-entry');
    await page.waitForSelector('#entry-status.error');
    assert.match(seen[0], /only one unlock method/);
    assert.match(await page.textContent('#entry-status'), /Not saved/);
    assert.equal((await page.evaluate(() => fetch('/v1/web/entries').then((r) => r.json()))).length, 1);
    // A recovery code makes two methods: no warning any more.
    await page.click('nav a[href="/passkeys"]');
    await page.click('#new-recovery');
    await page.waitForSelector('#recovery-code', { timeout: 20000 });
    assert.match(await page.textContent('#personal-key-status'), /2 unlock method/);
    // Replacing it: a passkey tap bound to the replacement; the old code stops working.
    const first = await page.textContent('#recovery-code');
    page.once('dialog', (d) => d.accept());
    await page.click('#new-recovery');
    await page.waitForFunction((old) => {
      const el = document.querySelector('#recovery-code');
      return el && el.textContent !== old;
    }, first, { timeout: 20000 });
    assert.match(await page.textContent('#personal-key-status'), /2 unlock method/);
    await page.click('nav a[href="/entries"]');
    await fill();
    page.once('dialog', (d) => { seen.push(d.message()); d.dismiss(); });
    await page.click('#save-entry');
    await page.waitForSelector('#entry-card h2:has-text("Bank")');
    assert.equal(seen.length, 1, 'no second warning');
    await page.click('#reveal-personal');
    await page.waitForFunction((c) => document.querySelector('[data-field="iban"]')?.firstChild?.textContent === c, SECRET, { timeout: 15000 });
    for (const { url, body } of bodies) assert.ok(!body.includes(SECRET), `personal value in a request to ${url}`);
  });
});
