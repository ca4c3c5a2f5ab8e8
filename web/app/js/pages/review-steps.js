// The procedure steps the signed-in account decides: the open procedures
// (GET /v1/workflow?status=open) whose open step belongs to a post the
// account holds, with approve, and reject with a reason
// (POST /v1/workflow/{id}/decisions). At a town these are the town's steps
// of its villages' procedures (town_post…): the village applies the town's
// decision when it pulls it, so a step decided here shows as sent until then.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { when, yuan, table, emptyRow } from './review-common.js';

export function render(root, { me, t, api }) {
  const posts = new Set((me.account && me.account.posts) || []);
  const sent = new Map(); // procedure id → step code decided here, not yet applied
  // drafts keeps the reason typed per procedure step: the list is drawn
  // again after every decision, and a reason half written in another row
  // must survive that.
  const drafts = new Map();
  let alive = true;
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'st-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'st-rows' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'st-outcome' } });
  const cols = ['review.col.village', 'review.col.matter', 'review.col.summary', 'review.col.amount', 'review.col.step',
    'review.col.post', 'review.col.opened', 'review.col.deadline', 'review.col.decide'];
  fill(root,
    h('h1', { text: me.tier === 'town' ? t('review.steps.townTitle') : t('review.steps.title') }),
    h('p', { class: 'hint', text: posts.size ? t('review.steps.posts', { posts: [...posts].join(', ') }) : t('review.steps.noPosts') }),
    outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'st-list' } },
      h('h2', { text: t('review.steps.list'), attrs: { id: 'st-list' } }),
      table(t, t('review.steps.list'), cols, tbody, 'st-table'),
      status));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    const q = { status: 'open', pageSize: 500 };
    if (me.tier === 'village') q.org = me.nodeOrg;
    let answer;
    try {
      answer = await api('GET', '/v1/workflow' + query(q));
    } catch (err) {
      if (!alive) return;
      fill(tbody);
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const mine = [];
    for (const p of answer.procedures || []) {
      const step = (p.steps || []).find((s) => s.code === p.openStep);
      if (!step || !posts.has(step.post)) continue;
      if (sent.has(p.entry.id) && sent.get(p.entry.id) !== step.code) sent.delete(p.entry.id);
      mine.push([p, step]);
    }
    fill(tbody, mine.map(([p, s]) => row(p, s)));
    if (!mine.length) fill(tbody, emptyRow(t('review.steps.none'), cols.length));
    status.textContent = t('review.steps.count', { n: mine.length });
  }

  function row(p, step) {
    const pr = p.procedure || {};
    const id = p.entry.id;
    const overdue = step.deadline && new Date(step.deadline).getTime() < Date.now();
    const reason = h('input', { attrs: { type: 'text', maxlength: 500, 'aria-label': t('review.steps.reason', { id }), 'data-testid': 'st-reason', placeholder: t('review.steps.reasonHint') } });
    const key = id + '/' + step.code;
    reason.value = drafts.get(key) || '';
    reason.addEventListener('input', () => drafts.set(key, reason.value));
    const approve = h('button', { class: 'primary', text: t('review.steps.approve'), attrs: { type: 'button', 'data-testid': 'st-approve' } });
    const reject = h('button', { class: 'danger', text: t('review.steps.reject'), attrs: { type: 'button', 'data-testid': 'st-reject' } });
    approve.addEventListener('click', () => decide(p, step, 'APPROVE', reason));
    reject.addEventListener('click', () => decide(p, step, 'REJECT', reason));
    const decide_ = sent.has(id)
      ? h('span', { class: 'muted', text: t('review.steps.sent') })
      : h('div', { class: 'decide' }, reason, approve, reject);
    return h('tr', { attrs: { 'data-procedure': id, 'data-step': step.code } },
      h('td', { class: 'mono', text: pr.org }),
      h('td', { text: pr.matterCode }),
      h('td', { class: 'wrap-text', text: pr.summary }),
      h('td', { class: 'num', text: pr.amountFen ? yuan(pr.amountFen) : '' }),
      h('td', { text: step.name || step.code }),
      h('td', { class: 'mono', text: step.post }),
      h('td', { text: when(step.openedAt) }),
      h('td', { class: overdue ? 'overdue' : '', text: when(step.deadline) + (overdue ? ' ' + t('review.steps.overdue') : '') }),
      h('td', {}, decide_));
  }

  async function decide(p, step, action, reasonInput) {
    const why = reasonInput.value.trim();
    if (action === 'REJECT' && !why) {
      reasonInput.setAttribute('aria-invalid', 'true');
      fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'st-refused' }, text: t('review.steps.needReason') }));
      return;
    }
    const d = { org: p.procedure.org, procedureId: p.entry.id, stepCode: step.code, action: 'STEP_ACTION_' + action, post: step.post };
    if (why) d.reason = why;
    // The list is drawn again first and the outcome said after: what the
    // message speaks of is on the page when it appears.
    let said;
    try {
      await api('POST', '/v1/workflow/' + encodeURIComponent(p.entry.id) + '/decisions', { decision: d }, { quiet: true });
      if (!alive) return;
      drafts.delete(p.entry.id + '/' + step.code);
      if (me.tier === 'town') sent.set(p.entry.id, step.code);
      said = h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'st-decided' },
        text: t(action === 'APPROVE' ? 'review.steps.approved' : 'review.steps.rejected', { step: step.name || step.code, id: p.entry.id }) });
    } catch (err) {
      if (!alive) return;
      said = h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'st-refused' }, text: t('review.steps.failed', { reason: err.reason }) });
    }
    await load();
    if (!alive) return;
    fill(outcome, said);
  }
}
