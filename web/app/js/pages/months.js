// The month-end close (结账, issue 19): the year's months of the village's
// books (GET /v1/months?org&year), each closed or open with its vouchers
// and, while open, every reason it cannot close now; a button closing an
// open month (POST /v1/months/{org}/{month}/close) with the close form: the
// bank statement's balance and the cash counted at the month's end, in
// yuan, which the node compares with 银行存款 and 库存现金; a refusal lists
// the checks that failed, and one about a figure is also shown beside it;
// and the reopening of a closed month (POST
// .../reopen), which the node takes only naming a BOOKS-REOPEN procedure
// whose town step approved it.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { field as labelled, today, thisMonth, unmark, markRefused, checksFailed, say } from './refusal.js';

const cols = ['month', 'state', 'vouchers', 'checks', 'act'];

// toFen parses an amount in yuan ("-1234.5", "1,234.50") into fen, or NaN:
// a bank balance may be negative (an overdraft the books show).
function toFen(yuan) {
  const m = /^(-)?(\d{1,13})(?:\.(\d{1,2}))?$/.exec(yuan.replace(/,/g, ''));
  if (!m) return NaN;
  const f = Number(m[2]) * 100 + Number((m[3] || '0').padEnd(2, '0'));
  return m[1] ? -f : f;
}

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  let alive = true;
  const monthPath = (m, act) => `/v1/months/${encodeURIComponent(org)}/${encodeURIComponent(m || '-')}/${act}`;
  const year = h('input', { attrs: { id: 'mo-year', type: 'number', min: '2000', max: '2100', value: today().slice(0, 4), 'data-testid': 'mo-year' } });
  year.addEventListener('change', load);
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'mo-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'mo-rows' } });
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'mo-outcome', 'aria-live': 'polite' } });

  // The reopening: month, the approving procedure, why.
  const field = (name, label, el) => labelled('mo', name, label, el);
  const reMonth = h('input', { attrs: { type: 'month', value: thisMonth() } });
  const procedure = h('input', { attrs: { type: 'text', maxlength: '64', autocomplete: 'off', spellcheck: 'false', placeholder: org + '-…' } });
  const reason = h('input', { attrs: { type: 'text', maxlength: '200' } });
  const reopen = h('form', { class: 'tx-form', attrs: { 'data-testid': 'mo-reopen', novalidate: true } },
    h('p', { class: 'hint', text: t('mo.reopen.hint') }),
    field('month', t('mo.reopen.month'), reMonth),
    field('procedureId', t('mo.reopen.procedure'), procedure),
    field('reason', t('mo.reopen.reason'), reason),
    h('button', { text: t('mo.reopen.submit'), attrs: { type: 'submit', 'data-testid': 'mo-reopen-submit' } }));
  const reopened = h('div', { class: 'outcome', attrs: { 'data-testid': 'mo-reopen-outcome', 'aria-live': 'polite' } });
  reopen.addEventListener('submit', (e) => { e.preventDefault(); sendReopen(); });

  // The close: month, and the figures checked at its end (yuan).
  const clMonth = h('input', { attrs: { type: 'month', value: thisMonth() } });
  const amount = () => h('input', { attrs: { type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00' } });
  const bankStatement = amount();
  const cashCounted = amount();
  const closeForm = h('form', { class: 'tx-form', attrs: { 'data-testid': 'mo-close-form', novalidate: true } },
    h('p', { class: 'hint', text: t('mo.close.hint') }),
    labelled('mo-close', 'month', t('mo.close.month'), clMonth),
    labelled('mo-close', 'bankStatementFen', t('mo.close.bank'), bankStatement),
    labelled('mo-close', 'cashCountedFen', t('mo.close.cash'), cashCounted),
    h('button', { text: t('mo.close'), attrs: { type: 'submit', 'data-testid': 'mo-close-submit' } }));
  closeForm.addEventListener('submit', (e) => { e.preventDefault(); sendClose(); });

  fill(root,
    h('h1', { text: t('mo.title') }),
    h('div', { class: 'columns' },
      h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': 'mo-list-title' } },
        h('h2', { text: t('mo.list'), attrs: { id: 'mo-list-title' } }),
        h('div', { class: 'toolbar' }, h('label', { text: t('mo.year'), attrs: { for: 'mo-year' } }), year),
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('mo.table') } },
          h('table', { class: 'list' },
            h('caption', { class: 'sr-only', text: t('mo.list') }),
            h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t('mo.col.' + c), attrs: { scope: 'col' } })))),
            tbody)),
        status),
      h('div', {},
        h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'mo-close-title' } },
          h('h2', { text: t('mo.close.title'), attrs: { id: 'mo-close-title' } }), closeForm, outcome),
        h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'mo-reopen-title' } },
          h('h2', { text: t('mo.reopen'), attrs: { id: 'mo-reopen-title' } }), reopen, reopened))));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let answer;
    try {
      answer = await api('GET', '/v1/months' + query({ org, year: year.value.trim() }));
    } catch (err) {
      if (!alive) return;
      fill(tbody);
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const months = answer.months || [];
    fill(tbody, months.map(row));
    if (!months.length) fill(tbody, h('tr', {}, h('td', { text: t('list.empty'), attrs: { colspan: cols.length } })));
    status.textContent = t('mo.count', { closed: months.filter((m) => m.closed).length, total: months.length });
  }

  function row(m) {
    const blockers = m.blockers || [];
    let checks = t('mo.ready');
    if (m.closed) checks = t('mo.closedBy', { id: m.closeId || '' });
    else if (blockers.length) checks = h('ul', { class: 'hits' }, blockers.map((b) => h('li', { text: b })));
    return h('tr', { attrs: { 'data-month': m.month, 'data-state': m.closed ? 'closed' : 'open' } },
      h('td', { text: m.month }),
      h('td', { text: t(m.closed ? 'mo.closed' : 'mo.open') }),
      h('td', { class: 'num', text: String(m.vouchers || 0) }),
      h('td', { attrs: { 'data-testid': 'mo-checks' } }, checks),
      h('td', {}, !m.closed && closeButton(m.month)));
  }

  // closeButton starts closing month: the close form takes the month and
  // asks for the figures checked at its end.
  function closeButton(month) {
    const btn = h('button', { text: t('mo.close'), attrs: { type: 'button', 'data-testid': 'mo-close', 'aria-label': t('mo.closeMonth', { month }) } });
    btn.addEventListener('click', () => {
      clMonth.value = month;
      unmark(closeForm);
      bankStatement.focus();
    });
    return btn;
  }

  // sendClose closes the form's month; a refusal lists every check that
  // failed, and marks the figure a check is about.
  async function sendClose() {
    unmark(closeForm);
    const month = clMonth.value;
    const body = { org, month };
    const bad = [];
    for (const [name, el] of [['bankStatementFen', bankStatement], ['cashCountedFen', cashCounted]]) {
      const v = el.value.trim();
      if (v === '') continue; // the node says it is required, beside it
      const f = toFen(v);
      if (Number.isNaN(f)) bad.push({ field: name, description: t('mo.close.amount') });
      else body[name] = String(f);
    }
    if (bad.length) {
      markRefused(closeForm, { details: [{ fieldViolations: bad }] });
      say(outcome, 'mo', 'refused', t('mo.close.amount'));
      return;
    }
    const btn = closeForm.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const answer = await api('POST', monthPath(month, 'close'), body);
      if (!alive) return;
      const id = answer.entry ? answer.entry.id : '';
      bankStatement.value = cashCounted.value = '';
      await load();
      if (!alive) return;
      say(outcome, 'mo', 'recorded', t('mo.closedOk', { month, id }), { entry: id });
    } catch (err) {
      if (!alive) return;
      markRefused(closeForm, err);
      say(outcome, 'mo', 'refused', t('mo.refused', { reason: err.reason }), { list: checksFailed(err) });
    } finally {
      btn.disabled = false;
    }
  }

  async function sendReopen() {
    unmark(reopen);
    const month = reMonth.value;
    const btn = reopen.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const answer = await api('POST', monthPath(month, 'reopen'), { org, month, reason: reason.value.trim(), procedureId: procedure.value.trim() });
      if (!alive) return;
      const id = answer.entry ? answer.entry.id : '';
      reason.value = procedure.value = '';
      await load();
      if (!alive) return;
      say(reopened, 'mo-reopen', 'recorded', t('mo.reopenedOk', { month, id }), { entry: id });
    } catch (err) {
      if (!alive) return;
      markRefused(reopen, err);
      say(reopened, 'mo-reopen', 'refused', t('mo.refused', { reason: err.reason }));
    } finally {
      btn.disabled = false;
    }
  }
}
