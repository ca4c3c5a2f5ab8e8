// The committees' main page at the village (issue 14 part 3, helper
// console-gov): for a member of the village committee or the supervisory
// committee, what waits on them at a glance, each with its page: the steps
// of the posts they hold (review-steps.js), the month's disclosure and its
// procedure (disclosure.js), the village's open alerts by severity
// (review-alerts.js) and its cards by level (review-cards.js). Counts come
// from the lists' totals; nothing here changes anything.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { lastMonth } from './disclosure.js';

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  const posts = new Set((me.account && me.account.posts) || []);
  let alive = true;
  const link = (id, href, linkText) => h('p', {}, h('a', { text: t(linkText), attrs: { href, 'data-testid': 'cm-' + id + '-link' } }));
  // card is a panel: its body (loading until filled) and, when href is
  // given, the link to its page. The disclosure's link comes with its body
  // instead, once the month is known: a link shown before would open the
  // wrong month if followed at once.
  const card = (id, title, href, linkText) => {
    const body = h('div', { attrs: { 'data-testid': 'cm-' + id } }, h('p', { class: 'muted', text: t('list.loading') }));
    return [body, h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cm-' + id + '-title' } },
      h('h2', { text: t(title), attrs: { id: 'cm-' + id + '-title' } }),
      body,
      href ? link(id, href, linkText) : null)];
  };
  const [steps, stepsPanel] = card('steps', 'committee.steps', '#/review/steps', 'committee.openSteps');
  const [disclose, disclosePanel] = card('disclosure', 'committee.disclosure', null);
  const [alerts, alertsPanel] = card('alerts', 'committee.alerts', '#/review/alerts', 'committee.openAlerts');
  const [cards, cardsPanel] = card('cards', 'committee.cards', '#/review/cards', 'committee.openCards');
  fill(root,
    h('h1', { text: t('committee.title') }),
    h('p', { class: 'hint', text: posts.size ? t('review.steps.posts', { posts: [...posts].join(', ') }) : t('review.steps.noPosts') }),
    h('div', { class: 'committee-grid' }, stepsPanel, disclosePanel, alertsPanel, cardsPanel));

  const failed = (el, err) => { if (alive) fill(el, h('p', { class: 'error', text: t('error.generic', { reason: err.reason || err.message }) })); };

  api('GET', '/v1/workflow' + query({ org, status: 'open', pageSize: 500 })).then((r) => {
    if (!alive) return;
    const mine = (r.procedures || []).filter((p) => (p.steps || []).some((s) => s.code === p.openStep && posts.has(s.post)));
    fill(steps, h('p', { class: 'big', attrs: { 'data-testid': 'cm-steps-count' }, text: String(mine.length) }),
      h('p', { class: 'muted', text: t('committee.stepsWaiting', { n: mine.length }) }));
  }).catch((err) => failed(steps, err));

  // The month of the disclosure procedure still open, else last month's.
  api('GET', '/v1/workflow' + query({ org, matterCode: 'GOV-DISCLOSE', status: 'open', pageSize: 50 })).then((r) => {
    const open = (r.procedures || []).map((p) => p.procedure.period).sort();
    const period = open.length ? open[open.length - 1] : lastMonth();
    return api('GET', '/v1/disclosures/' + encodeURIComponent(org) + '/' + period, undefined, { quiet: true })
      .then((d) => [period, d], (err) => { if (err.status === 404) return [period, null]; throw err; });
  }).then(([period, d]) => {
    if (!alive) return;
    const p = d && d.procedure;
    const st = !d ? t('disc.noEntries') : p ? (p.status === 'open' ? t('committee.discloseAt', { step: stepName(p) }) : t('disc.proc.' + p.status)) : t('disc.noProcedure');
    fill(disclose, h('p', { class: 'big', attrs: { 'data-testid': 'cm-disclosure-period' }, text: period }),
      h('p', { attrs: { 'data-testid': 'cm-disclosure-state' }, text: st }),
      link('disclosure', '#/disclosure?period=' + encodeURIComponent(period), 'committee.openDisclosure'));
  }).catch((err) => {
    failed(disclose, err);
    if (alive) disclose.append(link('disclosure', '#/disclosure', 'committee.openDisclosure'));
  });

  Promise.all(['red', 'yellow', 'info'].map((sev) => api('GET', '/v1/alerts' + query({ org, severity: sev, status: 'ALERT_STATUS_OPEN', pageSize: 1 }))
    .then((r) => [sev, Number(r.totalSize || 0)]))).then((counts) => {
    if (!alive) return;
    fill(alerts, h('ul', { class: 'counts', attrs: { 'data-testid': 'cm-alerts-counts' } }, counts.map(([sev, n]) => h('li', { attrs: { 'data-severity': sev } },
      h('span', { class: 'sev sev-' + sev, text: t('sev.' + sev) }), ' ', h('strong', { text: String(n) })))));
  }).catch((err) => failed(alerts, err));

  Promise.all(['CARD_LEVEL_RED', 'CARD_LEVEL_YELLOW', 'CARD_LEVEL_WARNING'].map((lvl) => api('GET', '/v1/cards' + query({ org, level: lvl, pageSize: 1 }))
    .then((r) => [lvl, Number(r.totalSize || 0)]))).then((counts) => {
    if (!alive) return;
    fill(cards, h('ul', { class: 'counts', attrs: { 'data-testid': 'cm-cards-counts' } }, counts.map(([lvl, n]) => h('li', { attrs: { 'data-level': lvl } },
      h('span', { text: t('committee.level.' + lvl) }), ' ', h('strong', { text: String(n) })))));
  }).catch((err) => failed(cards, err));

  function stepName(p) {
    const s = (p.steps || []).find((x) => x.code === p.openStep);
    return (s && (s.name || s.code)) || p.openStep;
  }

  return () => { alive = false; };
}
