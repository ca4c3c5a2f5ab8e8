// The alert queue: at a village its alerts (committee, supervisory
// committee), at a town one queue across all its villages (the town's
// GET /v1/alerts holds every village chain it received). Filters (village,
// rule, severity, status, age) go to the node; sorting is of the page
// loaded; several alerts are acted on at once (acknowledge, confirm,
// dismiss with a reason, resolve: POST /v1/alerts/{id}/status each).
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { when, ageDays, table, emptyRow } from './review-common.js';

const statuses = ['OPEN', 'ACKNOWLEDGED', 'CONFIRMED', 'DISMISSED', 'RESOLVED'];
const actions = ['ACKNOWLEDGED', 'CONFIRMED', 'DISMISSED', 'RESOLVED'];
const severities = ['red', 'yellow', 'info'];
const ages = ['', '1', '7', '30'];
const sevRank = { red: 0, yellow: 1, info: 2 };
const limit = 500;

export function render(root, { me, t, api }) {
  const atTown = me.tier === 'town';
  const mayReview = (me.permissions || []).includes('review_alerts');
  const state = { village: '', rule: '', severity: '', status: 'OPEN', age: '', sort: 'raised', dir: 1, rows: [], selected: new Set() };
  let alive = true;
  const villages = new Set();

  const select = (id, label, values, labelOf, value) => {
    const s = h('select', { attrs: { id, 'data-testid': id } },
      values.map((v) => h('option', { text: labelOf(v), attrs: { value: v, selected: v === value } })));
    return [s, h('label', { text: label, attrs: { for: id } })];
  };
  const [villageSel, villageLabel] = select('aq-village', t('review.alerts.village'), [''], () => t('review.all'), '');
  const [sevSel, sevLabel] = select('aq-severity', t('review.alerts.severity'), ['', ...severities], (v) => (v ? t('sev.' + v) : t('review.all')), '');
  const [statusSel, statusLabel] = select('aq-status', t('review.alerts.status'), ['', ...statuses], (v) => (v ? t('review.status.' + v) : t('review.all')), 'OPEN');
  const [ageSel, ageLabel] = select('aq-age', t('review.alerts.age'), ages, (v) => (v ? t('review.alerts.olderThan', { n: v }) : t('review.all')), '');
  const ruleInput = h('input', { attrs: { id: 'aq-rule', type: 'text', maxlength: 32, autocomplete: 'off', 'data-testid': 'aq-rule', placeholder: 'PRIVATE-ACCT' } });
  const filters = { village: villageSel, severity: sevSel, status: statusSel, age: ageSel };
  for (const [k, el] of Object.entries(filters)) el.addEventListener('change', () => { state[k] = el.value; load(); });
  ruleInput.addEventListener('change', () => { state.rule = ruleInput.value.trim().toUpperCase(); load(); });

  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'aq-status-line' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'aq-rows' } });
  const all = h('input', { attrs: { type: 'checkbox', id: 'aq-all', 'aria-label': t('review.alerts.selectAll'), 'data-testid': 'aq-all' } });
  all.addEventListener('change', () => {
    state.selected = all.checked ? new Set(state.rows.map((r) => r.entry.id)) : new Set();
    draw();
  });
  const sortable = [['raised', 'review.col.raised'], ['village', 'review.col.village'], ['rule', 'review.col.rule'],
    ['severity', 'review.col.severity'], ['status', 'review.col.status'], ['age', 'review.col.age']];
  const heads = sortable.map(([key, label]) => {
    const th = h('th', { attrs: { scope: 'col', 'data-sort': key } }, h('button', {
      class: 'sort', text: t(label), attrs: { type: 'button', 'data-testid': 'aq-sort-' + key },
      on: { click: () => { state.dir = state.sort === key ? -state.dir : 1; state.sort = key; draw(); } },
    }));
    return th;
  });
  const cols = [h('th', { attrs: { scope: 'col' } }, all), ...heads, 'review.col.reason', 'review.col.subject'];

  // The batch action.
  const [actionSel, actionLabel] = select('aq-action', t('review.alerts.action'), actions, (v) => t('review.action.' + v), 'ACKNOWLEDGED');
  const reason = h('input', { attrs: { id: 'aq-reason', type: 'text', maxlength: 500, 'data-testid': 'aq-reason' } });
  const apply = h('button', { class: 'primary', text: t('review.alerts.apply'), attrs: { type: 'button', 'data-testid': 'aq-apply' }, on: { click: act } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'aq-outcome' } });
  const chosen = h('span', { attrs: { 'data-testid': 'aq-chosen' } });

  fill(root,
    h('h1', { text: atTown ? t('review.alerts.townTitle') : t('review.alerts.title') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'aq-filters' } },
      h('h2', { text: t('review.alerts.filters'), attrs: { id: 'aq-filters' } }),
      h('div', { class: 'toolbar wrap' },
        atTown && villageLabel, atTown && villageSel,
        h('label', { text: t('review.alerts.rule'), attrs: { for: 'aq-rule' } }), ruleInput,
        sevLabel, sevSel, statusLabel, statusSel, ageLabel, ageSel)),
    mayReview && h('section', { class: 'panel', attrs: { 'aria-labelledby': 'aq-act' } },
      h('h2', { text: t('review.alerts.act'), attrs: { id: 'aq-act' } }),
      h('div', { class: 'toolbar wrap' }, chosen, actionLabel, actionSel,
        h('label', { text: t('review.alerts.reason'), attrs: { for: 'aq-reason' } }), reason, apply),
      outcome),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'aq-list' } },
      h('h2', { text: t('review.alerts.list'), attrs: { id: 'aq-list' } }),
      table(t, t('review.alerts.list'), cols, tbody, 'aq-table'),
      status));
  if (atTown) {
    api('GET', '/v1/sync/status', undefined, { quiet: true }).then((st) => {
      for (const v of st.villages || []) villages.add(v.origin);
      villageOptions();
    }).catch(() => {});
  }
  load();
  return () => { alive = false; };

  function villageOptions() {
    const keep = villageSel.value;
    fill(villageSel, h('option', { text: t('review.all'), attrs: { value: '' } }),
      [...villages].sort().map((v) => h('option', { text: v, attrs: { value: v } })));
    villageSel.value = keep;
  }

  async function load() {
    status.textContent = t('list.loading');
    const q = { org: atTown ? state.village : me.nodeOrg, ruleCode: state.rule, severity: state.severity, pageSize: limit };
    if (state.status) q.status = 'ALERT_STATUS_' + state.status;
    if (state.age) q.until = new Date(Date.now() - Number(state.age) * 86400000).toISOString();
    let answer;
    try {
      answer = await api('GET', '/v1/alerts' + query(q));
    } catch (err) {
      if (!alive) return;
      state.rows = [];
      draw();
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    state.rows = answer.alerts || [];
    const ids = new Set(state.rows.map((r) => r.entry.id));
    state.selected = new Set([...state.selected].filter((id) => ids.has(id)));
    let grew = false;
    for (const r of state.rows) {
      const v = orgOf(r);
      if (atTown && v !== me.nodeOrg && !villages.has(v)) { villages.add(v); grew = true; }
    }
    if (grew) villageOptions();
    draw();
    const total = Number(answer.totalSize || 0);
    status.textContent = total > state.rows.length
      ? t('review.alerts.shown', { n: state.rows.length, total })
      : t('review.alerts.count', { total });
  }

  function orgOf(r) {
    return (r.alert && r.alert.org) || (r.entry && r.entry.origin) || '';
  }

  function key(r) {
    const a = r.alert || {};
    switch (state.sort) {
      case 'village': return orgOf(r);
      case 'rule': return a.ruleCode || '';
      case 'severity': return sevRank[a.severity] ?? 3;
      case 'status': return statuses.indexOf(String(r.status || '').replace('ALERT_STATUS_', ''));
      case 'age': return -ageDays(r.entry.recordedAt);
      default: return r.entry.recordedAt || '';
    }
  }

  function draw() {
    const rows = [...state.rows].sort((x, y) => {
      const a = key(x), b = key(y);
      return (a < b ? -1 : a > b ? 1 : 0) * state.dir;
    });
    for (const th of heads) {
      th.setAttribute('aria-sort', th.dataset.sort === state.sort ? (state.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    fill(tbody, rows.map(row));
    if (!rows.length) fill(tbody, emptyRow(t('review.alerts.none'), cols.length));
    all.checked = rows.length > 0 && state.selected.size === rows.length;
    chosen.textContent = t('review.alerts.chosen', { n: state.selected.size });
    apply.disabled = state.selected.size === 0;
  }

  function row(r) {
    const a = r.alert || {};
    const id = r.entry.id;
    const st = String(r.status || '').replace('ALERT_STATUS_', '');
    const box = h('input', { attrs: { type: 'checkbox', 'aria-label': t('review.alerts.select', { id }), 'data-testid': 'aq-pick' } });
    box.checked = state.selected.has(id);
    box.addEventListener('change', () => {
      if (box.checked) state.selected.add(id); else state.selected.delete(id);
      draw();
    });
    const sev = a.severity || 'info';
    return h('tr', { attrs: { 'data-alert': id, 'data-rule': a.ruleCode || '', 'data-status': st, 'data-org': orgOf(r) } },
      h('td', {}, mayReview ? box : null),
      h('td', { text: when(r.entry.recordedAt) }),
      h('td', { class: 'mono', text: orgOf(r) }),
      h('td', { text: a.ruleCode }),
      h('td', {}, h('span', { class: 'sev sev-' + sev, text: t('sev.' + (sevRank[sev] !== undefined ? sev : 'info')) })),
      h('td', { text: st ? t('review.status.' + st) : '' }),
      h('td', { class: 'num', text: t('review.days', { n: ageDays(r.entry.recordedAt) }) }),
      h('td', { class: 'wrap-text', text: a.reason }),
      h('td', { class: 'mono', text: r.subjectId }));
  }

  // applied waits until the alert's status is st here: at a town, the
  // village applies the town's review when it pulls it, and a second review
  // of the same alert waits for that (a minute at most).
  async function applied(id, st) {
    for (let i = 0; i < 60 && alive; i++) {
      try {
        const got = await api('GET', '/v1/alerts/' + encodeURIComponent(id), undefined, { quiet: true });
        if (got.alert && got.alert.status === 'ALERT_STATUS_' + st) return;
      } catch {
        // try again
      }
      fill(outcome, h('p', { class: 'box', attrs: { role: 'status' }, text: t('review.alerts.waiting', { id }) }));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new Error(t('review.alerts.notApplied', { id }));
  }

  async function act() {
    const to = actionSel.value;
    const why = reason.value.trim();
    if ((to === 'DISMISSED' || to === 'RESOLVED') && !why) {
      reason.setAttribute('aria-invalid', 'true');
      fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert' }, text: t('review.alerts.needReason') }));
      return;
    }
    reason.removeAttribute('aria-invalid');
    apply.disabled = true;
    const byId = new Map(state.rows.map((r) => [r.entry.id, r]));
    const ids = [...state.selected];
    const failed = [];
    let done = 0;
    for (const id of ids) {
      const r = byId.get(id);
      // An open alert is acknowledged on the way to confirmed or dismissed
      // (open → acknowledged → confirmed or dismissed).
      const steps = r.status === 'ALERT_STATUS_OPEN' && (to === 'CONFIRMED' || to === 'DISMISSED') ? ['ACKNOWLEDGED', to] : [to];
      try {
        for (const st of steps) {
          const tr = { org: orgOf(r), alertId: id, status: 'ALERT_STATUS_' + st };
          if (why) tr.reason = why;
          await api('POST', '/v1/alerts/' + encodeURIComponent(id) + '/status', { transition: tr }, { quiet: true });
          if (st !== to) await applied(id, st);
        }
        done++;
      } catch (err) {
        failed.push({ id, reason: err.reason || err.message || String(err.status) });
      }
      if (!alive) return;
    }
    if (done) { state.selected = new Set(failed.map((f) => f.id)); reason.value = ''; }
    // The list is drawn again first and the outcome said after: what the
    // message speaks of is on the page when it appears.
    await load();
    if (!alive) return;
    fill(outcome, h('div', { class: 'box ' + (failed.length ? 'refused' : 'recorded'), attrs: { role: 'status', 'data-testid': 'aq-done' } },
      h('p', { text: t('review.alerts.done', { n: done, action: t('review.action.' + to) }) }),
      failed.length > 0 && h('ul', {}, failed.map((f) => h('li', { text: f.id + ': ' + f.reason })))));
  }
}
