// The monthly finance disclosure (财务公开, matter GOV-DISCLOSE; issue 14
// part 3, helper console-gov): the month's content as the node computes it
// from the books (GET /v1/disclosures/{org}/{period}: income and expense by
// category, the large transactions, contracts signed and payments received,
// assets acquired and disposed of, cash and bank balances, what was
// reversed), the month's procedure with its steps, and, for the holder of
// the open step's post (the supervisory committee's audit, the committees'
// publication, at a town the town's check), approve or reject with a reason
// (POST .../decisions). The approval names the digest of the content shown:
// the node refuses it when the books changed since, and keeps the content it
// approved with the decision. The public content (what the district's site
// will show, masked) is shown too, and the approval names its digest.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { when, yuan, table, emptyRow } from './review-common.js';

// lastMonth is the month before today's, YYYY-MM (local time).
export function lastMonth(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

// label is the label of an enum value (TRANSACTION_KIND_INCOME under
// disc.kind. is disc.kind.INCOME), '' for none.
function label(t, prefix, v) {
  const s = String(v || '').replace(/^[A-Z]+(_[A-Z]+)*?_(KIND|METHOD)_/, '');
  return s && s !== 'UNSPECIFIED' ? t(prefix + s) : '';
}

export function render(root, { me, t, api }) {
  const posts = new Set((me.account && me.account.posts) || []);
  const mayDecide = (me.permissions || []).includes('decide_step');
  const village = me.tier === 'village';
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  let alive = true;
  let shown = null; // { org, period, sha256 }

  const orgSel = village ? null : h('select', { attrs: { id: 'disc-org', 'data-testid': 'disc-org' } });
  const month = h('input', { attrs: { id: 'disc-month', type: 'month', 'data-testid': 'disc-month', value: params.get('period') || lastMonth() } });
  const showBtn = h('button', { class: 'primary', text: t('disc.show'), attrs: { type: 'button', 'data-testid': 'disc-show' } });
  showBtn.addEventListener('click', () => show());
  const procRows = h('tbody', { attrs: { 'data-testid': 'disc-procs' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'disc-outcome' } });
  const content = h('div', { attrs: { 'data-testid': 'disc-content' } });
  const procCols = ['review.col.village', 'disc.col.period', 'disc.col.status', 'review.col.step', 'review.col.deadline', 'disc.col.open'];

  fill(root,
    h('h1', { text: t('disc.title') }),
    h('p', { class: 'hint', text: t('disc.hint') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'disc-procs-title' } },
      h('h2', { text: t('disc.procedures'), attrs: { id: 'disc-procs-title' } }),
      table(t, t('disc.procedures'), procCols, procRows, 'disc-procs-table')),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'disc-month-title' } },
      h('h2', { text: t('disc.month'), attrs: { id: 'disc-month-title' } }),
      h('div', { class: 'toolbar wrap' },
        orgSel ? h('label', { text: t('review.col.village'), attrs: { for: 'disc-org' } }) : null, orgSel,
        h('label', { text: t('disc.col.period'), attrs: { for: 'disc-month' } }), month, showBtn),
      outcome,
      content));

  loadProcedures().then(() => show());
  return () => { alive = false; };

  async function loadProcedures() {
    let answer;
    try {
      answer = await api('GET', '/v1/workflow' + query({ org: village ? me.nodeOrg : '', matterCode: 'GOV-DISCLOSE', pageSize: 200 }));
    } catch (err) {
      if (alive) fill(procRows, emptyRow(t('error.generic', { reason: err.reason }), procCols.length));
      return;
    }
    if (!alive) return;
    const procs = (answer.procedures || []).slice().reverse();
    fill(procRows, procs.map((p) => {
      const pr = p.procedure || {};
      const step = (p.steps || []).find((s) => s.code === p.openStep);
      const open = h('button', { text: t('disc.open'), attrs: { type: 'button', 'data-open': pr.org + '/' + pr.period } });
      open.addEventListener('click', () => {
        if (orgSel) orgSel.value = pr.org;
        month.value = pr.period;
        show();
      });
      return h('tr', { attrs: { 'data-procedure': p.entry.id, 'data-period': pr.period } },
        h('td', { class: 'mono', text: pr.org }),
        h('td', { class: 'mono', text: pr.period }),
        h('td', { text: t('disc.proc.' + p.status) }),
        h('td', { text: step ? (step.name || step.code) : '' }),
        h('td', { text: step ? when(step.deadline) : '' }),
        h('td', {}, open));
    }));
    if (!procs.length) fill(procRows, emptyRow(t('disc.noProcedures'), procCols.length));
    if (orgSel) {
      const orgs = [...new Set(procs.map((p) => p.procedure.org))].sort();
      const keep = orgSel.value || params.get('org') || '';
      fill(orgSel, orgs.map((o) => h('option', { text: o, attrs: { value: o } })));
      if (orgs.includes(keep)) orgSel.value = keep;
    }
  }

  async function show() {
    const org = village ? me.nodeOrg : orgSel.value;
    const period = month.value;
    fill(outcome);
    if (!org || !/^\d{4}-\d{2}$/.test(period)) {
      fill(content, h('p', { text: t('disc.pick') }));
      return;
    }
    fill(content, h('p', { class: 'status', attrs: { role: 'status' }, text: t('list.loading') }));
    let r;
    try {
      r = await api('GET', '/v1/disclosures/' + encodeURIComponent(org) + '/' + encodeURIComponent(period), undefined, { quiet: true });
    } catch (err) {
      if (!alive) return;
      shown = null;
      fill(content, h('p', { class: err.status === 404 ? 'muted' : 'error', text: err.status === 404 ? t('disc.noEntries') : t('error.generic', { reason: err.reason }) }));
      return;
    }
    if (!alive) return;
    shown = { org, period, sha256: r.sha256, publicSha256: r.publicSha256 || '' };
    fill(content, view(r.disclosure || {}, r.sha256, r.procedure, r.publicContent || '', r.publicSha256 || ''));
  }

  // pub is what the district's public site will show once the month's
  // procedure is approved (masked, the entries recorded since the previous
  // disclosure's procedure), verbatim: an approval names its digest, and
  // the site and `sanzi verify-public` check what they show against it.
  function view(d, sha, p, pub, pubSha) {
    const money = (v) => yuan(v || 0);
    const figures = h('table', { class: 'facts', attrs: { 'data-testid': 'disc-figures' } },
      h('caption', { class: 'sr-only', text: t('disc.figures') }),
      h('tbody', {},
        fact('disc.income', money(d.incomeFen), 'income'),
        fact('disc.expense', money(d.expenseFen), 'expense'),
        fact('disc.payments', money(d.paymentsFen), 'payments'),
        fact('disc.asOf', t('disc.asOfValue', { seq: d.asOfSeq || 0 }), 'as-of'),
        fact('disc.sha', sha, 'sha'),
        pubSha ? fact('disc.publicSha', pubSha, 'public-sha') : null));
    return h('div', {},
      h('h3', { text: t('disc.heading', { org: d.org, period: d.period }) }),
      figures,
      procedure(p),
      pub ? h('details', { class: 'disc-part', attrs: { 'data-testid': 'disc-public' } },
        h('summary', { text: t('disc.publicContent') }),
        h('pre', { class: 'raw', text: pretty(pub) })) : null,
      list('categories', ['disc.col.kind', 'disc.col.category', 'disc.col.amount', 'disc.col.count'], d.categories, (c) => [
        label(t, 'disc.kind.', c.kind), c.category || t('disc.none'), num(money(c.amountFen)), num(String(c.count || 0))]),
      list('balances', ['disc.col.account', 'disc.col.opening', 'disc.col.in', 'disc.col.out', 'disc.col.closing'], d.balances, (b) => [
        t('disc.account.' + b.account), num(money(b.openingFen)), num(money(b.inFen)), num(money(b.outFen)), num(money(b.closingFen))]),
      list('large', ['disc.col.date', 'disc.col.kind', 'disc.col.category', 'disc.col.summary', 'disc.col.counterparty', 'disc.col.amount', 'disc.col.method'], d.large, (x) => [
        x.businessDate, label(t, 'disc.kind.', x.kind), x.category, wrap(x.summary), x.counterparty, num(money(x.amountFen)), label(t, 'disc.method.', x.paymentMethod)],
      { threshold: money(d.largeFromFen) }),
      list('contracts', ['disc.col.number', 'disc.col.counterparty', 'disc.col.object', 'disc.col.term', 'disc.col.annual', 'disc.col.signed'], d.contracts, (c) => [
        c.contractNumber, c.counterparty, label(t, 'disc.object.', c.objectKind) + (c.areaMu ? ' ' + t('disc.mu', { n: c.areaMu }) : ''),
        (c.termStart || '') + ' – ' + (c.termEnd || ''), num(money(c.annualAmountFen)), c.signedDate]),
      list('paymentsList', ['disc.col.date', 'disc.col.number', 'disc.col.counterparty', 'disc.col.billing', 'disc.col.amount', 'disc.col.method'], d.payments, (x) => [
        x.businessDate, x.contractNumber, x.counterparty, x.period, num(money(x.amountFen)), label(t, 'disc.method.', x.paymentMethod)]),
      list('acquired', ['disc.col.date', 'disc.col.code', 'disc.col.name', 'disc.col.category', 'disc.col.value'], d.assetsAcquired, (a) => [
        a.date, a.assetCode, a.name, a.category, num(money(a.valueFen))]),
      list('disposed', ['disc.col.date', 'disc.col.code', 'disc.col.name', 'disc.col.method', 'disc.col.counterparty', 'disc.col.price'], d.assetsDisposed, (a) => [
        a.date, a.assetCode, a.name, label(t, 'disc.disposal.', a.method), a.counterparty, num(money(a.valueFen))]),
      list('reversed', ['disc.col.date', 'disc.col.kind', 'disc.col.summary', 'disc.col.amount'], d.reversed, (x) => [
        x.businessDate, label(t, 'disc.kind.', x.kind), wrap(x.summary), num(money(x.amountFen))]),
      d.omitted ? h('p', { class: 'note', text: t('disc.omitted', { n: d.omitted }) }) : null);
  }

  function fact(label, value, id) {
    return h('tr', {}, h('th', { text: t(label), attrs: { scope: 'row' } }), h('td', { class: id === 'sha' || id === 'public-sha' ? 'mono hash' : 'num', text: value, attrs: { 'data-testid': 'disc-' + id } }));
  }

  function pretty(raw) {
    try { return JSON.stringify(JSON.parse(raw), null, 1); } catch { return raw; }
  }

  function num(text) { return { num: true, text }; }
  function wrap(text) { return { wrap: true, text }; }

  function list(id, cols, rows, cells, vars = {}) {
    rows = rows || [];
    const title = t('disc.section.' + id, vars);
    const tbody = h('tbody', { attrs: { 'data-testid': 'disc-' + id } },
      rows.length ? rows.map((r) => h('tr', { attrs: { 'data-entry': r.entryId || '' } }, cells(r).map((c) => (c && typeof c === 'object')
        ? h('td', { class: c.num ? 'num' : 'wrap-text', text: c.text })
        : h('td', { text: c ?? '' }))))
        : emptyRow(t('disc.empty'), cols.length));
    return h('div', { class: 'disc-part' },
      h('h3', { text: title }),
      table(t, title, cols, tbody, 'disc-' + id + '-table'));
  }

  function procedure(p) {
    if (!p) return h('p', { class: 'box warned', attrs: { 'data-testid': 'disc-procedure' }, text: t('disc.noProcedure') });
    const step = (p.steps || []).find((s) => s.code === p.openStep);
    const steps = h('ol', { class: 'steps', attrs: { 'data-testid': 'disc-steps' } }, (p.steps || []).map((s) => h('li', { attrs: { 'data-step': s.code, 'data-status': s.status } },
      (s.name || s.code) + ' · ' + t('disc.step.' + s.status) + (s.by ? ' · ' + s.by : ''))));
    const mine = step && mayDecide && posts.has(step.post);
    return h('div', { class: 'box ' + (p.status === 'open' ? 'warned' : 'recorded'), attrs: { 'data-testid': 'disc-procedure', 'data-status': p.status, 'data-step': p.openStep || '' } },
      h('p', { text: p.status === 'open' ? t('disc.procOpen', { step: step ? (step.name || step.code) : p.openStep, post: step ? step.post : '' }) : t('disc.proc.' + p.status) }),
      steps,
      mine ? decide(p, step) : (step ? h('p', { class: 'muted', text: t('disc.notYours', { post: step.post }) }) : null));
  }

  function decide(p, step) {
    const reason = h('input', { attrs: { type: 'text', id: 'disc-reason', maxlength: 500, 'data-testid': 'disc-reason', placeholder: t('review.steps.reasonHint') } });
    const approve = h('button', { class: 'primary', text: t('disc.approve'), attrs: { type: 'button', 'data-testid': 'disc-approve' } });
    const reject = h('button', { class: 'danger', text: t('review.steps.reject'), attrs: { type: 'button', 'data-testid': 'disc-reject' } });
    approve.addEventListener('click', () => send('APPROVE'));
    reject.addEventListener('click', () => send('REJECT'));
    return h('div', { class: 'decide' }, h('label', { text: t('disc.reason'), attrs: { for: 'disc-reason' } }), reason, approve, reject);

    async function send(action) {
      const why = reason.value.trim();
      if (action === 'REJECT' && !why) {
        reason.setAttribute('aria-invalid', 'true');
        fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'disc-refused' }, text: t('review.steps.needReason') }));
        return;
      }
      const body = { action: 'STEP_ACTION_' + action, sha256: shown.sha256 };
      if (shown.publicSha256) body.publicSha256 = shown.publicSha256;
      if (why) body.reason = why;
      approve.disabled = true;
      reject.disabled = true;
      try {
        const r = await api('POST', '/v1/disclosures/' + encodeURIComponent(shown.org) + '/' + encodeURIComponent(shown.period) + '/decisions', body, { quiet: true });
        if (!alive) return;
        // The page is drawn again first and the outcome said after: what
        // the message speaks of is on the page when it appears.
        await show();
        await loadProcedures();
        if (!alive) return;
        fill(outcome, h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'disc-decided' },
          text: t(action === 'APPROVE' ? 'disc.approved' : 'disc.rejected', { step: step.name || step.code, id: r.entry.id, sha: r.contentSha256 }) }));
      } catch (err) {
        if (!alive) return;
        approve.disabled = false;
        reject.disabled = false;
        fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'disc-refused' }, text: t('review.steps.failed', { reason: err.reason }) }));
      }
    }
  }
}
