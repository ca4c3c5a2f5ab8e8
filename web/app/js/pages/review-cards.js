// The cards the timers gave (GET /v1/cards): at a village its own, at a
// town those of all its villages (and its own), newest first.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { when, table, emptyRow } from './review-common.js';

export function render(root, { me, t, api }) {
  let alive = true;
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'cd-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'cd-rows' } });
  const cols = ['review.col.given', 'review.col.village', 'review.col.level', 'review.col.matter', 'review.col.step',
    'review.col.post', 'review.col.person', 'review.col.deadline', 'review.col.reason'];
  fill(root, h('h1', { text: t('review.cards.title') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cd-list' } },
      h('h2', { text: t('review.cards.list'), attrs: { id: 'cd-list' } }),
      table(t, t('review.cards.list'), cols, tbody, 'cd-table'), status));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let answer;
    try {
      answer = await api('GET', '/v1/cards' + query({ org: me.tier === 'village' ? me.nodeOrg : '', pageSize: 500 }));
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const cards = (answer.cards || []).slice().reverse();
    fill(tbody, cards.map((r) => {
      const c = r.card || {};
      const level = String(c.level || '').replace('CARD_LEVEL_', '');
      return h('tr', { class: 'card-' + level.toLowerCase(), attrs: { 'data-card': r.entry.id } },
        h('td', { text: when(r.entry.recordedAt) }),
        h('td', { class: 'mono', text: c.org }),
        h('td', { text: level ? t('review.card.' + level) : '' }),
        h('td', { text: c.matterCode }),
        h('td', { text: c.stepCode }),
        h('td', { class: 'mono', text: c.post }),
        h('td', { text: c.person }),
        h('td', { text: when(c.deadline) }),
        h('td', { class: 'wrap-text', text: c.reason }));
    }));
    if (!cards.length) fill(tbody, emptyRow(t('review.cards.none'), cols.length));
    status.textContent = t('review.cards.count', { total: Number(answer.totalSize || 0) });
  }
}
