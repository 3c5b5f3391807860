// The owner web vault in a real headless Chromium (Debian's /usr/bin/chromium
// driven by playwright-core over CDP) with a virtual WebAuthn authenticator
// that supports PRF, against the real `clavitor serve` binary.
//
// Harness: ./harness.mjs. Run: `node --test e2e/`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { bin, shot, checkPrerequisites, launchBrowser, Vault, newPage as openPage } from './harness.mjs';

const CANARY = `CANARY-personal-${Math.random().toString(36).slice(2)}-recovery`;
const PASSWORD = 'gh-shared-password-42';

let vault;
let dataDir;
let work;
let origin;
let setupLink;
let browser;
const cli = (args, input) => vault.cli(args, input);
const owner = (args) => vault.owner(args);
const newPage = (opts) => openPage(browser, opts);

before(async () => {
  checkPrerequisites();
  vault = await new Vault().start();
  ({ dataDir, work, origin, setupLink } = vault);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (vault) vault.stop();
});

test('owner web vault: passkey setup, personal field, agent, audit', async (t) => {
  assert.match(setupLink, /^http:\/\/localhost:\d+\/setup#[A-Za-z0-9_-]{43}$/);
  const owner1 = await newPage();
  const { page, bodies } = owner1;

  await t.test('setup link registers a passkey and creates the personal key', async () => {
    const res = await page.goto(setupLink);
    const csp = res.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers()['cache-control'], 'no-store');
    await page.click('#setup-passkey');
    await page.waitForSelector('#recovery-code', { timeout: 20000 });
    await shot(page, 'setup');
    const key = await page.evaluate(() => fetch('/v1/web/personal-key').then((r) => r.json()));
    assert.match(key.public_key, /^[A-Za-z0-9_-]{87}$/);
    assert.equal(key.wraps.filter((w) => w.kind === 'passkey').length, 1);
    assert.equal(key.wraps.filter((w) => w.kind === 'recovery').length, 1);
    // The setup link is single use.
    const again = await page.evaluate(async (token) => {
      const r = await fetch('/v1/web/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      return r.status;
    }, new URL(setupLink).hash.slice(1));
    assert.equal(again, 401);
  });

  await t.test('create entry GitHub with a shared password, a TOTP seed and a personal recovery code', async () => {
    await page.click('#go-entries');
    await page.click('#new-entry');
    await page.fill('#entry-name', 'GitHub');
    const rows = page.locator('#entry-fields .field-row');
    await rows.nth(0).locator('.f-value').fill('octocat');
    await rows.nth(1).locator('.f-value').fill(PASSWORD);
    await page.click('#add-field');
    await rows.nth(2).locator('.f-label').fill('recovery_codes');
    assert.equal(await rows.nth(2).locator('.f-tier').inputValue(), 'personal');
    await rows.nth(2).locator('.f-value').fill(CANARY);
    await page.click('#add-field');
    await rows.nth(3).locator('.f-label').fill('totp');
    await rows.nth(3).locator('.f-value').fill('JBSWY3DPEHPK3PXP');
    page.once('dialog', (d) => d.accept());
    await page.click('#save-entry');
    await page.waitForSelector('#entry-card');
    await page.waitForSelector('#totp-code');
    assert.match(await page.textContent('#totp-code'), /^\d{6}$/);
    await page.click('#reveal-personal');
    await page.waitForFunction(
      (c) => document.querySelector('[data-field="recovery_codes"]')?.firstChild?.textContent === c, CANARY, { timeout: 15000 });
    await shot(page, 'entries');
  });

  let token;
  await t.test('create agent Codex with GitHub: the token is shown once with the init line', async () => {
    await page.click('nav a[href="/agents"]');
    await page.waitForSelector('#agent-form');
    await page.fill('#agent-name', 'Codex');
    await page.check('input.agent-entry[value="GitHub"]');
    await page.click('#create-agent');
    await page.waitForSelector('#agent-token');
    token = (await page.textContent('#agent-token')).trim();
    await shot(page, 'agents');
    assert.match(token, /^cvt_/);
    assert.match(await page.textContent('#agent-init'), /echo "\$CLAVITOR_TOKEN" \| clavitor-cli init/);
  });

  await t.test('the agent gets the shared password; the personal recovery code is refused with CV-2041', () => {
    const init = cli(['init'], `${token}\n`);
    assert.equal(init.status, 0, init.stderr);
    const got = cli(['get', 'GitHub', '--field', 'password']);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout, `${PASSWORD}\n`);
    const refused = cli(['get', 'GitHub', '--field', 'recovery_codes']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /CV-2041: Access denied\./);
    assert.ok(!refused.stdout.includes(CANARY));
  });

  let lockToken;
  let firstViolationAt;
  await t.test('an agent that exceeds its limits twice gets locked (first violation)', async () => {
    const created = await page.evaluate(async () => {
      const { csrf } = await fetch('/v1/web/session').then((r) => r.json());
      const r = await fetch('/v1/web/agents', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-clavitor-csrf': csrf },
        body: JSON.stringify({ name: 'Locky', grants: [{ entry: 'GitHub' }], rate_minute: 1, rate_hour: 1 }),
      });
      return r.json();
    });
    lockToken = created.token;
    const env = { config: path.join(work, 'locky-config') };
    const run = (args, input) => spawnSync(bin('clavitor-cli'), args, {
      input, encoding: 'utf8',
      env: { ...process.env, HOME: work, CLAVITOR_CONFIG_DIR: env.config, HTTPS_PROXY: '' },
    });
    assert.equal(run(['init'], `${lockToken}\n`).status, 0);
    assert.equal(run(['get', 'GitHub', '--field', 'password']).status, 0);
    const refused = run(['get', 'Other', '--field', 'password']);
    assert.match(refused.stderr, /CV-2045/);
    firstViolationAt = Date.now();
  });

  await t.test('the personal canary and PRF output never leave the browser', async () => {
    for (const { url, body } of bodies) {
      assert.ok(!body.includes(CANARY), `canary in request body to ${url}`);
      assert.ok(!/"prf"|"results"|clientExtensionResults/.test(body), `PRF data in request to ${url}`);
    }
    // The PRF output of the enrolled passkey, computed in the page.
    const prf = await page.evaluate(async () => {
      const { prfOnly } = await import('/assets/webauthn.mjs');
      const { b64 } = await import('/assets/b64.mjs');
      const list = await fetch('/v1/web/passkeys').then((r) => r.json());
      const start = await fetch('/v1/web/login/start', { method: 'POST' }).then((r) => r.json());
      const id = list[0].id;
      const out = await prfOnly(id, start.prf_salts[id], location.hostname);
      return b64(out.output);
    });
    assert.match(prf, /^[A-Za-z0-9_-]{43}$/);
    for (const { url, body } of bodies) assert.ok(!body.includes(prf), `PRF output in request to ${url}`);
    for (const f of readdirSync(dataDir)) {
      const bytes = readFileSync(path.join(dataDir, f));
      assert.ok(!bytes.includes(Buffer.from(CANARY)), `canary in ${f}`);
      assert.ok(!bytes.includes(Buffer.from(PASSWORD)), `shared password in clear in ${f}`);
    }
    assert.ok(!vault.out.includes(CANARY), 'canary in server logs');
    assert.ok(!vault.out.includes(PASSWORD), 'password in server logs');
  });

  await t.test('log out, log in again with the same passkey: the personal field decrypts', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login');
    await shot(page, 'login');
    const stage = await page.evaluate(() => fetch('/v1/web/session').then((r) => r.json()));
    assert.equal(stage.stage, 'none');
    await page.click('#login');
    await page.waitForSelector('#new-entry');
    await page.click('text=GitHub');
    await page.waitForSelector('#reveal-personal');
    await page.click('#reveal-personal');
    await page.waitForFunction(
      (c) => document.querySelector('[data-field="recovery_codes"]')?.firstChild?.textContent === c, CANARY, { timeout: 15000 });
  });

  await t.test('a personal field written by the owner CLI decrypts in the browser; no CLI reads it', async () => {
    const cliCanary = `CLI-CANARY-${Math.random().toString(36).slice(2)}`;
    const add = owner(['entry', 'add', 'Bank', '--personal', `iban=${cliCanary}`, '--info', 'holder=Ada']);
    assert.equal(add.status, 0, add.stderr);
    const show = owner(['entry', 'show', 'Bank']);
    assert.ok(!show.stdout.includes(cliCanary) && !show.stderr.includes(cliCanary));
    await page.click('nav a[href="/entries"]');
    await page.click('text=Bank');
    await page.waitForSelector('#reveal-personal');
    await page.click('#reveal-personal');
    await page.waitForFunction(
      (c) => document.querySelector('[data-field="iban"]')?.firstChild?.textContent === c, cliCanary, { timeout: 15000 });
    for (const f of readdirSync(dataDir)) {
      assert.ok(!readFileSync(path.join(dataDir, f)).includes(Buffer.from(cliCanary)), `CLI canary in ${f}`);
    }
  });

  await t.test('an authenticator that was not enrolled cannot log in', async () => {
    const stranger = await newPage();
    await stranger.page.goto(`${origin}/login`);
    await stranger.page.click('#login');
    await stranger.page.waitForSelector('#login-status.error', { timeout: 20000 });
    const s = await stranger.page.evaluate(() => fetch('/v1/web/session').then((r) => r.json()));
    assert.equal(s.stage, 'none');
    const denied = await stranger.page.evaluate(() => fetch('/v1/web/entries').then((r) => r.status));
    assert.equal(denied, 401);
    await stranger.context.close();
  });

  await t.test('state-changing calls need the CSRF token', async () => {
    const status = await page.evaluate(async () => {
      const r = await fetch('/v1/web/agents', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Evil', grants: [] }) });
      return r.status;
    });
    assert.equal(status, 401);
  });

  await t.test('Locky is locked after a second violation; the Agents page unlocks it with a passkey tap', async () => {
    const run = (args) => spawnSync(bin('clavitor-cli'), args, {
      encoding: 'utf8',
      env: { ...process.env, HOME: work, CLAVITOR_CONFIG_DIR: path.join(work, 'locky-config'), HTTPS_PROXY: '' },
    });
    const wait = firstViolationAt + 61000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    assert.match(run(['get', 'Third', '--field', 'password']).stderr, /CV-2045|CV-2046/);
    assert.match(run(['get', 'GitHub', '--field', 'password']).stderr, /CV-2046/);
    await page.click('nav a[href="/agents"]');
    await page.waitForSelector('tr[data-agent="Locky"] [data-state="locked"]');
    // An unlock assertion started for Locky cannot unlock Codex, and is spent.
    const statuses = await page.evaluate(async () => {
      const { get } = await import('/assets/webauthn.mjs');
      const { csrf } = await fetch('/v1/web/session').then((r) => r.json());
      const post = (p, b) => fetch(p, { method: 'POST', headers: { 'content-type': 'application/json', 'x-clavitor-csrf': csrf }, body: JSON.stringify(b) });
      const start = await post('/v1/web/assert/start', { purpose: 'unlock', agent: 'Locky' }).then((r) => r.json());
      const a = await get(start.options);
      const other = await post('/v1/web/agent/unlock', { name: 'Codex', ceremony: start.ceremony, credential: a.json });
      const again = await post('/v1/web/agent/unlock', { name: 'Locky', ceremony: start.ceremony, credential: a.json });
      return [other.status, again.status];
    });
    assert.deepEqual(statuses, [403, 403]);
    await page.click('tr[data-agent="Locky"] >> text=Unlock (passkey)');
    await page.waitForSelector('tr[data-agent="Locky"] [data-state="active"]');
    const ok = run(['get', 'GitHub', '--field', 'password']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `${PASSWORD}\n`);
  });

  await t.test('audit page shows the accesses with a verified chain; CSV matches clavitor audit --csv', async () => {
    await page.click('nav a[href="/audit"]');
    await page.waitForSelector('#audit-verified.ok');
    await page.waitForSelector('#audit-rows tr:has-text("agent.create")');
    await shot(page, 'audit');
    const rows = await page.locator('#audit-rows tr').allTextContents();
    assert.ok(rows.some((r) => r.includes('read') && r.includes('cli:codex') && r.includes('GitHub')), rows.join('\n'));
    assert.ok(rows.some((r) => r.includes('CV-2041')), 'refused read listed');
    assert.ok(rows.some((r) => r.includes('owner:web') && r.includes('agent.create')));
    const csv = await page.evaluate(() => fetch('/v1/web/audit.csv').then((r) => r.text()));
    const fromCli = owner(['audit', '--csv']);
    assert.equal(fromCli.status, 0, fromCli.stderr);
    assert.equal(csv, fromCli.stdout);
  });

  // Last: the forged assertions advance the stored signature counter past the
  // virtual authenticator's own, so it cannot sign in afterwards.
  await t.test('forged ceremonies are refused: wrong origin, UV missing, reused or foreign challenge', async () => {
    const { credentials } = await owner1.cdp.send('WebAuthn.getCredentials', { authenticatorId: owner1.authenticatorId });
    assert.equal(credentials.length, 1);
    const c = credentials[0];
    const key = createPrivateKey({ key: Buffer.from(c.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
    const credId = Buffer.from(c.credentialId, 'base64').toString('base64url');
    let counter = c.signCount + 100;
    const post = (p, body, extra = {}) => fetch(`${origin}${p}`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', ...extra },
      body: JSON.stringify(body),
    });
    const start = async () => (await post('/v1/web/login/start', {})).json();
    const forge = (challenge, { o = origin, flags = 0x05, type = 'webauthn.get' } = {}) => {
      const clientDataJSON = Buffer.from(JSON.stringify({ type, challenge, origin: o, crossOrigin: false }));
      const count = Buffer.alloc(4);
      count.writeUInt32BE(counter++);
      const authData = Buffer.concat([createHash('sha256').update('localhost').digest(), Buffer.from([flags]), count]);
      const sig = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), key);
      return {
        id: credId, rawId: credId, type: 'public-key', extensions: {},
        response: {
          authenticatorData: authData.toString('base64url'),
          clientDataJSON: clientDataJSON.toString('base64url'),
          signature: sig.toString('base64url'),
          userHandle: null,
        },
      };
    };
    const finish = (ceremony, credential, extra) => post('/v1/web/login/finish', { ceremony, credential }, extra);
    // A well-formed assertion made with the enrolled key is accepted (the forger is sound)…
    let s = await start();
    const good = forge(s.options.publicKey.challenge);
    assert.equal((await finish(s.ceremony, good)).status, 200);
    // …but never twice.
    const replay = await finish(s.ceremony, good);
    assert.equal(replay.status, 403);
    assert.equal((await replay.json()).code, 'CV-1008');
    s = await start();
    assert.equal((await finish(s.ceremony, forge(s.options.publicKey.challenge, { o: 'http://evil.example' }))).status, 403);
    s = await start();
    assert.equal((await finish(s.ceremony, forge(s.options.publicKey.challenge, { flags: 0x01 }))).status, 403);
    s = await start();
    assert.equal((await finish(s.ceremony, forge(s.options.publicKey.challenge, { type: 'webauthn.create' }))).status, 403);
    const s1 = await start();
    const s2 = await start();
    assert.equal((await finish(s2.ceremony, forge(s1.options.publicKey.challenge))).status, 403);
    // A request from another origin is refused before any verification.
    s = await start();
    assert.equal((await finish(s.ceremony, forge(s.options.publicKey.challenge), { origin: 'http://evil.example' })).status, 401);
    assert.equal((await post('/v1/web/login/start', {}, { origin: 'http://evil.example' })).status, 401);
  });

  await owner1.context.close();
});
