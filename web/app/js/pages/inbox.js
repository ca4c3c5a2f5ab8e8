// The signed-in person's inbox: the open procedure steps whose post she
// holds (GET /v1/workflow?status=open&post=P for each of her posts), each
// with its deadline on the district calendar (the node's step deadline)
// counting down every second, and the decisions she may take on it
// (POST /v1/workflow/{id}/decisions: approve, or return with a reason).
import { h, fill } from '../dom.js';

// pageSize bounds the steps fetched per post: an inbox longer than this
// says so rather than loading everything.
const pageSize = 100;

function yuan(amountFen) {
  const f = Number(amountFen || 0);
  return (f / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// left is the time from now to deadline as {d, h, m, s, over}.
export function left(deadlineMs, nowMs) {
  let ms = deadlineMs - nowMs;
  const over = ms < 0;
  if (over) ms = -ms;
  const sec = Math.floor(ms / 1000);
  const p = (n) => String(n).padStart(2, '0');
  return { d: Math.floor(sec / 86400), h: p(Math.floor((sec % 86400) / 3600)), m: p(Math.floor((sec % 3600) / 60)), s: p(sec % 60), over };
}

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  const posts = (me.account && me.account.posts) || [];
  const canDecide = (me.permissions || []).includes('decide_step');
  let alive = true;
  // drafts keeps the reason typed per procedure step: the list is drawn
  // again after every decision, and a reason half written in another row
  // must survive that.
  const drafts = new Map();
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'inbox-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'inbox-rows' } });
  const cols = ['inbox.col.matter', 'inbox.col.summary', 'inbox.col.amount', 'inbox.col.step', 'inbox.col.post', 'inbox.col.deadline', 'inbox.col.left', 'inbox.col.act'];
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'inbox-outcome', 'aria-live': 'polite' } });
  fill(root,
    h('h1', { text: t('inbox.title') }),
    h('section', { class: 'panel' },
      status,
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('inbox.table') } },
        h('table', { class: 'list' },
          h('caption', { class: 'sr-only', text: t('inbox.title') }),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t(c), attrs: { scope: 'col' } })))),
          tbody)),
      outcome));

  // The countdowns: every second, each row's time left from its deadline.
  const timers = [];
  const tick = setInterval(() => {
    const now = Date.now();
    for (const c of timers) paint(c, now);
  }, 1000);
  load();
  return () => { alive = false; clearInterval(tick); };

  function paint(c, now) {
    const l = left(c.deadline, now);
    c.el.textContent = t(l.over ? 'inbox.overdue' : 'inbox.left', l);
    c.el.classList.toggle('overdue', l.over);
  }

  async function load() {
    status.textContent = t('list.loading');
    const rows = [];
    let total = 0;
    try {
      for (const post of posts) {
        const q = new URLSearchParams({ org, status: 'open', post, pageSize: String(pageSize) });
        const answer = await api('GET', '/v1/workflow?' + q.toString());
        total += Number(answer.totalSize || 0);
        for (const p of answer.procedures || []) {
          const step = (p.steps || []).find((s) => s.code === p.openStep);
          if (step && step.post === post) rows.push({ p, step });
        }
      }
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    rows.sort((a, b) => Date.parse(a.step.deadline || 0) - Date.parse(b.step.deadline || 0));
    timers.length = 0;
    fill(tbody, rows.map(row));
    if (!rows.length) fill(tbody, h('tr', {}, h('td', { text: t('inbox.empty'), attrs: { colspan: cols.length } })));
    status.textContent = t('inbox.count', { count: total });
    const now = Date.now();
    for (const c of timers) paint(c, now);
  }

  function row({ p, step }) {
    const proc = p.procedure || {};
    const id = p.entry ? p.entry.id : '';
    const deadline = step.deadline ? Date.parse(step.deadline) : NaN;
    const leftCell = h('td', { class: 'num', attrs: { 'data-testid': 'inbox-left' } });
    if (!Number.isNaN(deadline)) timers.push({ el: leftCell, deadline });
    const reason = h('input', { attrs: { type: 'text', maxlength: 200, 'aria-label': t('inbox.reason'), 'data-testid': 'inbox-reason', placeholder: t('inbox.reason') } });
    const key = id + '/' + step.code;
    reason.value = drafts.get(key) || '';
    reason.addEventListener('input', () => drafts.set(key, reason.value));
    const approve = h('button', { text: t('inbox.approve'), attrs: { type: 'button', 'data-testid': 'inbox-approve' } });
    const back = h('button', { text: t('inbox.return'), attrs: { type: 'button', 'data-testid': 'inbox-return' } });
    approve.addEventListener('click', () => decide('STEP_ACTION_APPROVE', ''));
    back.addEventListener('click', () => {
      if (!reason.value.trim()) {
        reason.setAttribute('aria-invalid', 'true');
        return say('refused', t('inbox.needReason'));
      }
      decide('STEP_ACTION_RETURN', reason.value.trim());
    });
    return h('tr', { attrs: { 'data-procedure': id, 'data-step': step.code } },
      h('td', { text: proc.matterCode }),
      h('td', { text: proc.summary }),
      h('td', { class: 'num', text: proc.amountFen ? yuan(proc.amountFen) : '' }),
      h('td', { text: step.name || step.code }),
      h('td', { class: 'mono', text: step.post }),
      h('td', {}, h('time', { text: step.deadline ? new Date(step.deadline).toLocaleString(document.documentElement.lang || undefined) : '', attrs: { datetime: step.deadline || '' } })),
      leftCell,
      h('td', {}, canDecide && h('div', { class: 'decide' }, approve, reason, back)));

    async function decide(action, why) {
      approve.disabled = back.disabled = true;
      try {
        const answer = await api('POST', '/v1/workflow/' + encodeURIComponent(id) + '/decisions', {
          decision: { org, procedureId: id, stepCode: step.code, action, post: step.post, reason: why },
        });
        if (!alive) return;
        drafts.delete(key);
        // The list is drawn again first and the outcome said after: what
        // the message speaks of is on the page when it appears.
        await load();
        if (!alive) return;
        say('recorded', t('inbox.done', { id: answer.entry ? answer.entry.id : '' }));
      } catch (err) {
        if (!alive) return;
        if (err.fields.some((f) => f.endsWith('reason'))) reason.setAttribute('aria-invalid', 'true');
        say('refused', t('inbox.refused', { reason: err.reason }));
      } finally {
        approve.disabled = back.disabled = false;
      }
    }
  }

  function say(kind, message) {
    fill(outcome, h('div', { class: 'box ' + kind, attrs: { role: kind === 'refused' ? 'alert' : 'status', 'data-testid': 'inbox-' + kind } },
      h('p', { text: message })));
  }
}
