// The Audit page: filters, the seed's columns plus outcome, reason and
// source, the hash-chain badge, CSV export (same bytes as `clavitor audit --csv`).

import * as api from './api.mjs';
import { h, toast, errorText, page, fmtTime } from './dom.mjs';

export async function auditPage() {
  const f = {
    agent: h('input', { id: 'audit-agent', 'aria-label': 'Agent', placeholder: 'agent' }),
    entry: h('input', { id: 'audit-entry', 'aria-label': 'Entry', placeholder: 'entry' }),
    action: h('input', { id: 'audit-action', 'aria-label': 'Action', placeholder: 'action' }),
    outcome: h('select', { id: 'audit-outcome', 'aria-label': 'Outcome' }, ['', 'ok', 'refused', 'redacted'].map((o) => h('option', { value: o }, o || 'any outcome'))),
    since: h('input', { id: 'audit-since', type: 'date', 'aria-label': 'Since' }),
    until: h('input', { id: 'audit-until', type: 'date', 'aria-label': 'Until' }),
  };
  const badge = h('span', { id: 'audit-verified', class: 'badge' }, 'checking…');
  const tbody = h('tbody', { id: 'audit-rows' });
  const csv = h('a', { class: 'button', id: 'audit-csv', href: '/v1/web/audit.csv', download: 'clavitor-audit.csv' }, 'Export CSV');
  const query = () => {
    const q = new URLSearchParams();
    for (const k of ['agent', 'entry', 'action', 'outcome']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    if (f.since.value) q.set('since', String(Date.parse(`${f.since.value}T00:00:00Z`)));
    if (f.until.value) q.set('until', String(Date.parse(`${f.until.value}T00:00:00Z`) + 86400000));
    return q.toString();
  };
  const load = async () => {
    const q = query();
    const rows = await api.get(`/v1/web/audit${q ? `?${q}` : ''}`);
    csv.href = `/v1/web/audit.csv${q ? `?${q}` : ''}`;
    tbody.replaceChildren(...(rows.length ? rows.slice().reverse().map((r) => h('tr', {},
      h('td', { class: 'mono' }, fmtTime(r.at)), h('td', {}, r.action), h('td', {}, r.entry || ''), h('td', {}, r.actor),
      h('td', {}, h('span', { class: `badge ${r.outcome === 'ok' ? 'ok' : 'bad'}` }, r.outcome)),
      h('td', {}, r.reason || ''), h('td', {}, r.field || ''), h('td', {}, r.host || ''), h('td', {}, r.source || '')))
      : [h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No records match.'))]));
  };
  const form = h('form', { class: 'card row', id: 'audit-filters' }, Object.values(f), h('button', { type: 'submit' }, 'Filter'), csv);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load().catch((e) => toast(errorText(e))); });
  page('Audit', h('p', {}, 'Hash chain: ', badge), form,
    h('table', {}, h('thead', {}, h('tr', {}, ['TIME', 'ACTION', 'ENTRY', 'ACTOR', 'OUTCOME', 'REASON', 'FIELD', 'HOST', 'FROM'].map((t) => h('th', {}, t)))), tbody));
  const v = await api.get('/v1/web/audit/verify');
  badge.className = `badge ${v.ok ? 'ok' : 'bad'}`;
  badge.textContent = v.ok ? `verified (${v.records} records)` : `broken at #${v.broken_at}: ${v.problem || ''}`;
  await load();
}
