// The administrator's sign-in audit (issue 14 part 8, helper console-gov):
// sign-ins, failures, locks, throttled attempts, password changes and
// sign-outs at this node, newest first (GET /v1/signins), with time,
// account (as typed: a guessed name too), client address, outcome and
// reason; filtered by account and outcome, paged with "older". The node
// keeps it bounded (180 days, 20,000 events) and shows an administrator
// the accounts of its scope.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { when, table, emptyRow } from './review-common.js';

const outcomes = ['ok', 'failed', 'locked', 'throttled', 'must_change', 'password_changed', 'signout'];
const trouble = new Set(['failed', 'locked', 'throttled']);

export function render(root, { t, api }) {
  let alive = true;
  let next = '';
  const account = h('input', { attrs: { id: 'si-account', 'data-testid': 'si-account', maxlength: '64', autocomplete: 'off' } });
  const outcome = h('select', { attrs: { id: 'si-outcome', 'data-testid': 'si-outcome' } },
    h('option', { text: t('si.all'), attrs: { value: '' } }),
    outcomes.map((o) => h('option', { text: t('si.outcome.' + o), attrs: { value: o } })));
  const show = h('button', { class: 'primary', text: t('si.show'), attrs: { type: 'button', 'data-testid': 'si-show' } });
  const more = h('button', { text: t('si.more'), attrs: { type: 'button', 'data-testid': 'si-more', hidden: true } });
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'si-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'si-rows' } });
  const cols = ['si.col.at', 'si.col.account', 'si.col.address', 'si.col.outcome', 'si.col.reason', 'si.col.kind', 'si.col.count'];
  show.addEventListener('click', () => load(false));
  more.addEventListener('click', () => load(true));
  account.addEventListener('keydown', (e) => { if (e.key === 'Enter') load(false); });
  fill(root,
    h('h1', { text: t('si.title') }),
    h('p', { class: 'hint', text: t('si.hint') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'si-list' } },
      h('h2', { text: t('si.list'), attrs: { id: 'si-list' } }),
      h('div', { class: 'toolbar wrap' },
        h('label', { text: t('si.col.account'), attrs: { for: 'si-account' } }), account,
        h('label', { text: t('si.col.outcome'), attrs: { for: 'si-outcome' } }), outcome, show),
      table(t, t('si.list'), cols, tbody, 'si-table'),
      h('div', { class: 'pager' }, status, more)));
  load(false);
  return () => { alive = false; };

  async function load(older) {
    status.textContent = t('list.loading');
    let r;
    try {
      r = await api('GET', '/v1/signins' + query({ account: account.value.trim(), outcome: outcome.value, pageSize: 100, pageToken: older ? next : '' }));
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const rows = (r.events || []).map((e) => h('tr', { class: trouble.has(e.outcome) ? 'trouble' : '', attrs: { 'data-outcome': e.outcome, 'data-account': e.account } },
      h('td', { text: when(e.at) }),
      h('td', { class: 'mono', text: e.account }),
      h('td', { class: 'mono', text: e.address || '' }),
      h('td', { text: t('si.outcome.' + e.outcome) }),
      h('td', { class: 'wrap-text', text: (e.reason || '') + (e.dropped ? ' ' + t('si.dropped', { n: e.dropped }) : '') }),
      h('td', { text: e.kind ? t('si.kind.' + e.kind) : '' }),
      h('td', { class: 'num', text: String(e.count || 1) })));
    if (older) tbody.append(...rows);
    else fill(tbody, rows.length ? rows : emptyRow(t('si.none'), cols.length));
    next = r.nextPageToken || '';
    more.hidden = !next;
    status.textContent = t('si.count', { n: tbody.querySelectorAll('tr[data-outcome]').length });
  }
}
