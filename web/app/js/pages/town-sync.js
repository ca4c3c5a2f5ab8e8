// The sync of the town's villages (GET /v1/sync/status): for each village
// the head of its chain held here, its last push, the time since, the
// pushes refused (forks among them) and the last refusal; then the town's
// own chain going up to the district.
import { h, fill } from '../dom.js';
import { table, emptyRow, when, ago } from './review-common.js';

export function render(root, { t, api }) {
  let alive = true;
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'sy-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'sy-rows' } });
  const up = h('p', { attrs: { 'data-testid': 'sy-up' } });
  const cols = ['review.col.village', 'review.col.head', 'review.col.lastPush', 'review.col.lag', 'review.col.pushes',
    'review.col.refusals', 'review.col.forks', 'review.col.lastRefusal'];
  fill(root, h('h1', { text: t('review.sync.title') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'sy-list' } },
      h('h2', { text: t('review.sync.villages'), attrs: { id: 'sy-list' } }),
      table(t, t('review.sync.villages'), cols, tbody, 'sy-table'), status),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'sy-upt' } },
      h('h2', { text: t('review.sync.up'), attrs: { id: 'sy-upt' } }), up));
  load();
  const timer = setInterval(load, 10000);
  return () => { alive = false; clearInterval(timer); };

  async function load() {
    let st;
    try {
      st = await api('GET', '/v1/sync/status', undefined, { quiet: true });
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason || String(err.status) });
      return;
    }
    if (!alive) return;
    const keyRefused = new Map((st.keyRefusals || []).map((r) => [r.origin, r]));
    const list = st.villages || [];
    fill(tbody, list.map((v) => {
      const kr = keyRefused.get(v.origin);
      const last = v.lastRefusal || (kr ? kr.error : '');
      const bad = Number(v.forks || 0) > 0 || Number(v.refusals || 0) > 0 || kr;
      return h('tr', { class: bad ? 'trouble' : '', attrs: { 'data-village': v.origin } },
        h('td', { class: 'mono', text: v.origin }),
        h('td', { class: 'num', text: String(v.head || 0) }),
        h('td', { text: v.lastPush ? when(v.lastPush) : t('review.sync.noPush') }),
        h('td', { text: v.lastPush ? ago(t, v.lastPush) : '—' }),
        h('td', { class: 'num', text: String(v.pushes || 0) }),
        h('td', { class: 'num', text: String(Number(v.refusals || 0) + (kr ? Number(kr.count || 0) : 0)) }),
        h('td', { class: 'num', text: String(v.forks || 0) }),
        h('td', { class: 'wrap-text', text: last ? when(v.lastRefusalAt || (kr && kr.at)) + ' ' + last : '' }));
    }));
    if (!list.length) fill(tbody, emptyRow(t('review.sync.none'), cols.length));
    status.textContent = t('review.sync.count', { n: list.length, at: when(new Date().toISOString()) });
    up.textContent = !st.sessions && !st.acked
      ? t('review.sync.noParent', { head: st.head || 0 })
      : t('review.sync.upLine', { head: st.head || 0, acked: st.acked || 0, lag: st.lag || 0,
        state: st.connected ? t('review.sync.connected') : t('review.sync.notConnected') });
  }
}
