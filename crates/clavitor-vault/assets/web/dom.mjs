// Small DOM helpers shared by the pages: element builder, page frame,
// toasts, error text, times.

import * as api from './api.mjs';
import { b64 } from './b64.mjs';

const main = () => document.getElementById('main');
let timers = [];

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function toast(message) {
  const box = document.getElementById('toast');
  const item = h('div', {}, message);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

export function errorText(e) {
  if (e instanceof api.ApiError) return e.code ? `${e.code}: ${e.message}` : e.message;
  if (e && e.name === 'NotAllowedError') return 'The passkey request was cancelled or not allowed.';
  if (e && e.name === 'InvalidStateError') return 'That authenticator already holds a passkey for this vault.';
  return (e && e.message) || String(e);
}

/** Replaces the page content (and stops the previous page's timers). */
export function page(title, ...children) {
  for (const t of timers) clearInterval(t);
  timers = [];
  main().replaceChildren(h('h1', {}, title), ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · Clavitor`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** A timer that ends with the page. */
export function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

/** Shows `e` in `status` as an error. */
export function fail(status, e) {
  status.className = 'error';
  status.textContent = errorText(e);
}

/** A button whose async action reports errors into `status`. */
export function action(label, attrs, status, fn) {
  const button = h('button', { type: 'button', ...attrs }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await fn();
    } catch (e) {
      fail(status, e);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export const fmtTime = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
export const randomId = (prefix) => prefix + b64(globalThis.crypto.getRandomValues(new Uint8Array(12)));
export const splitList = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
