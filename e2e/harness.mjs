// Shared harness of the browser tests: the real `clavitor serve` binary in a
// temporary data dir, the agent and owner CLIs, Debian's Chromium driven by
// playwright-core, and pages with a CDP virtual WebAuthn authenticator.
//
// Needs: `cargo build -p clavitor -p clavitor-cli`, `apt-get install -y chromium`,
// `npm ci` in e2e/ (all done by `cargo xtask test`).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const bin = (name) => path.join(root, 'target', 'debug', name);
export const CHROMIUM = process.env.CLAVITOR_CHROMIUM || '/usr/bin/chromium';

// CLAVITOR_SCREENSHOTS=DIR saves a PNG of each main page there (for docs/).
const SHOTS = process.env.CLAVITOR_SCREENSHOTS;
export async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export function checkPrerequisites() {
  for (const b of [bin('clavitor'), bin('clavitor-cli'), CHROMIUM]) {
    assert.ok(existsSync(b), `${b} is missing (cargo build -p clavitor -p clavitor-cli; apt-get install -y chromium)`);
  }
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** One vault: `clavitor serve` on a fresh data dir, with its setup link. */
export class Vault {
  constructor() {
    this.work = mkdtempSync(path.join(tmpdir(), 'clavitor-e2e-'));
    this.dataDir = mkdtempSync(path.join(this.work, 'data-'));
    this.out = '';
    this.setupLink = null;
    this.origin = null;
    this.child = null;
  }

  start() {
    return new Promise((resolve, reject) => {
      const child = spawn(bin('clavitor'), ['serve', '--data-dir', this.dataDir, '--listen', '127.0.0.1:0'], {
        env: { ...process.env, RUST_LOG: 'debug', HOME: this.work },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${this.out}`)), 20000);
      const onData = (chunk) => {
        this.out += chunk.toString();
        const m = this.out.match(/one-time link to set up your passkey: (\S+)/);
        if (m && !this.setupLink) {
          this.setupLink = m[1];
          this.origin = new URL(this.setupLink).origin;
          clearTimeout(timer);
          resolve(this);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${this.out}`)));
    });
  }

  /** `clavitor-cli ARGS` with its own config dir (`config` names it). */
  cli(args, input, config = 'agent-config') {
    return spawnSync(bin('clavitor-cli'), args, {
      input,
      env: { ...process.env, HOME: this.work, CLAVITOR_CONFIG_DIR: path.join(this.work, config), HTTPS_PROXY: '' },
      encoding: 'utf8',
    });
  }

  /** The owner CLI, `clavitor ARGS`, against this vault. */
  owner(args) {
    const vault = this.origin.replace('localhost', '127.0.0.1');
    return spawnSync(bin('clavitor'), ['--data-dir', this.dataDir, '--vault', vault, ...args], {
      env: { ...process.env, HOME: this.work },
      encoding: 'utf8',
    });
  }

  stop() {
    if (this.child) {
      this.child.removeAllListeners('exit');
      this.child.kill('SIGTERM');
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** Chrome allows one `internal` (platform) authenticator per page: add others as `usb`. */
export async function addAuthenticator(cdp, { prf = true, transport = 'usb' } = {}) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport,
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: prf,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

/** A fresh browser context and page with one virtual authenticator; records request bodies. */
export async function newPage(browser, { prf = true } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const authenticatorId = await addAuthenticator(cdp, { prf, transport: 'internal' });
  const bodies = [];
  page.on('request', (r) => {
    const body = r.postData();
    if (body) bodies.push({ url: r.url(), body });
  });
  return { context, page, cdp, authenticatorId, bodies };
}
