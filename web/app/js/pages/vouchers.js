// The village accountant's vouchers (记账凭证, issue 19): the month's list
// (GET /v1/vouchers?org&month, paged by the node, the month kept in the
// address), each voucher with its lines, totals, the record it books and
// the red-ink voucher reversing it, or a reason and a button to reverse it
// (POST /v1/vouchers/{id}/reversals); and a voucher entered by hand, lines
// added as needed, its debit and credit totals and their difference shown
// while typing, checked by the node without recording (validateOnly, the
// number it would get) and then recorded (POST /v1/vouchers); and a link to
// the import of the books from a sheet (import.js, #/import?kind=books).
// Accounts are typed as codes of the chart (101 库存现金): a village node
// serves no read of the chart in force, so the page holds no copy of it and
// the node's refusal names an unknown code next to its line.
import { h, fill } from '../dom.js';
import { allowed } from '../pages.js';
import { fen, yuan, pagedList } from './register-list.js';
import { today, thisMonth, unmark, markRefused, say } from './refusal.js';

const maxLines = 40;

// lineFields are the inputs of a line: the VoucherLine field each fills
// (amounts typed in yuan, sent in fen) and its input's attributes.
const lineFields = [
  { name: 'account', attrs: { inputmode: 'numeric', maxlength: '12', size: '6' } },
  { name: 'summary', attrs: { maxlength: '200' } },
  { name: 'debit', field: 'debitFen', amount: true },
  { name: 'credit', field: 'creditFen', amount: true },
  { name: 'counterparty', attrs: { maxlength: '100' } },
  { name: 'project', attrs: { maxlength: '100' } },
  { name: 'assetCode', attrs: { maxlength: '64' } },
];

// sum adds amounts in fen (int64 come as strings in JSON).
const sum = (xs) => xs.reduce((a, x) => a + Number(x || 0), 0);

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  const trail = allowed(me).some((p) => p.route === 'trail');
  const importing = allowed(me).some((p) => p.route === 'import');
  let alive = true;
  // drafts keeps the reversal reason typed per voucher: the list is drawn
  // again after every voucher recorded or reversed.
  const drafts = new Map();
  const number = (n) => t('vc.number', { n: n || '?' });

  // The list of one month.
  const month = h('input', { attrs: { id: 'vc-month', type: 'month', value: thisMonth(), 'data-testid': 'vc-month' } });
  const asked = new URLSearchParams(location.hash.split('?')[1] || '').get('month');
  if (/^\d{4}-\d{2}$/.test(asked || '')) month.value = asked;
  const cols = ['number', 'date', 'summary', 'lines', 'debit', 'credit', 'source', 'reversal', 'act'];
  const list = pagedList({
    t, api, id: 'vc', path: '/v1/vouchers', field: 'vouchers', colspan: cols.length, row, route: 'vouchers',
    params: () => new URLSearchParams(month.value ? { month: month.value } : {}), fixed: { org },
  });
  month.addEventListener('change', () => list.restart());
  const listOutcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'vc-list-outcome', 'aria-live': 'polite' } });

  // The hand voucher.
  const lines = h('tbody', { attrs: { 'data-testid': 'vc-lines' } });
  let made = 0;
  const input = (id, field, attrs) => h('input', { attrs: { id, type: 'text', 'data-field': field, ...attrs } });
  const date = input('vc-date', 'voucher.businessDate', { type: 'date', value: today() });
  const summary = input('vc-summary', 'voucher.summary', { maxlength: '200', 'data-testid': 'vc-summary' });
  const totals = {
    debit: h('strong', { attrs: { 'data-testid': 'vc-debit-total' } }),
    credit: h('strong', { attrs: { 'data-testid': 'vc-credit-total' } }),
    diff: h('span', { class: 'diff', attrs: { 'data-testid': 'vc-diff' } }),
  };
  const add = h('button', { text: t('vc.addLine'), attrs: { type: 'button', 'data-testid': 'vc-add-line' } });
  const check = h('button', { text: t('vc.check'), attrs: { type: 'button', 'data-testid': 'vc-check' } });
  const submit = h('button', { class: 'primary', text: t('vc.submit'), attrs: { type: 'submit', 'data-testid': 'vc-submit' } });
  const form = h('form', { class: 'tx-form vc-form', attrs: { 'data-testid': 'vc-form', novalidate: true } },
    h('div', { class: 'field' }, h('label', { text: t('vc.f.date'), attrs: { for: 'vc-date' } }), date),
    h('div', { class: 'field' }, h('label', { text: t('vc.f.summary'), attrs: { for: 'vc-summary' } }), summary),
    h('fieldset', { class: 'schedule' },
      h('legend', { text: t('vc.lines') }),
      h('p', { class: 'hint', text: t('vc.accountHint') }),
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('vc.lines') } },
        h('table', { class: 'list' },
          h('thead', {}, h('tr', {}, lineFields.map((f) => h('th', { text: t('vc.line.' + f.name), attrs: { scope: 'col' } })), h('th', { text: t('vc.line.remove'), attrs: { scope: 'col' } }))),
          lines)),
      add,
      h('p', { class: 'totals', attrs: { id: 'vc-totals', 'data-field': 'voucher.lines', 'data-testid': 'vc-totals', role: 'status' } },
        t('vc.debitTotal'), ' ', totals.debit, ' · ', t('vc.creditTotal'), ' ', totals.credit, ' · ', totals.diff)),
    h('div', { class: 'toolbar' }, check, submit));
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'vc-outcome', 'aria-live': 'polite' } });
  add.addEventListener('click', () => { if (lines.children.length < maxLines) addLine(); });
  check.addEventListener('click', () => send(true));
  form.addEventListener('submit', (e) => { e.preventDefault(); send(false); });
  form.addEventListener('input', showTotals);
  addLine();
  addLine();

  fill(root,
    h('h1', { text: t('vc.title') }),
    // The opening balances and a year of vouchers come from a sheet on
    // the import page, in its books mode.
    importing && h('p', {}, h('a', { text: t('vc.importBooks'), attrs: { href: '#/import?kind=books', 'data-testid': 'vc-import' } })),
    h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': 'vc-list-title' } },
      h('h2', { text: t('vc.list'), attrs: { id: 'vc-list-title' } }),
      h('div', { class: 'toolbar' }, h('label', { text: t('vc.month'), attrs: { for: 'vc-month' } }), month),
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('vc.table') } },
        h('table', { class: 'list' },
          h('caption', { class: 'sr-only', text: t('vc.list') }),
          h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t('vc.col.' + c), attrs: { scope: 'col' } })))),
          list.tbody)),
      list.pager, listOutcome),
    h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'vc-form-title' } },
      h('h2', { text: t('vc.new'), attrs: { id: 'vc-form-title' } }), form, outcome));
  list.load();
  return () => { alive = false; list.stop(); };

  // addLine adds an empty line to the form; numberLines names its inputs
  // as the node names them in a refusal (voucher.lines[i].account).
  function addLine() {
    const k = ++made;
    const tr = h('tr', {}, lineFields.map((f) => h('td', {}, h('input', {
      class: f.amount ? 'amount' : '',
      attrs: { id: `vc-l${k}-${f.name}`, name: f.name, type: 'text', autocomplete: 'off', ...(f.amount ? { inputmode: 'decimal', maxlength: '16', size: '10' } : f.attrs) },
    }))));
    const remove = h('button', { text: t('vc.line.remove'), attrs: { type: 'button', 'data-testid': 'vc-remove-line' } });
    remove.addEventListener('click', () => { if (lines.children.length > 2) { tr.remove(); numberLines(); showTotals(); } });
    tr.append(h('td', {}, remove));
    lines.append(tr);
    numberLines();
    showTotals();
  }

  function numberLines() {
    [...lines.children].forEach((tr, i) => {
      for (const f of lineFields) {
        const el = tr.querySelector(`[name="${f.name}"]`);
        el.dataset.field = `voucher.lines[${i}].${f.field || f.name}`;
        el.setAttribute('aria-label', t('vc.lineField', { n: i + 1, field: t('vc.line.' + f.name) }));
      }
    });
  }

  // amounts are the fen typed in a column of the lines (NaN: not yuan).
  function amounts(name) {
    return [...lines.querySelectorAll(`[name="${name}"]`)].map((el) => (el.value.trim() === '' ? 0 : fen(el.value)));
  }

  function showTotals() {
    const d = sum(amounts('debit').filter((x) => !Number.isNaN(x)));
    const c = sum(amounts('credit').filter((x) => !Number.isNaN(x)));
    totals.debit.textContent = yuan(d);
    totals.credit.textContent = yuan(c);
    totals.diff.textContent = d === c ? t('vc.balanced') : t(d > c ? 'vc.diff.debit' : 'vc.diff.credit', { diff: yuan(Math.abs(d - c)) });
    totals.diff.parentNode.dataset.state = d === c ? 'balanced' : 'unbalanced';
  }

  // collect is the voucher the form describes, or null with each amount
  // that is not a number of yuan marked.
  function collect() {
    let bad = false;
    const out = [...lines.children].map((tr) => {
      const l = {};
      for (const f of lineFields) {
        const el = tr.querySelector(`[name="${f.name}"]`);
        const v = el.value.trim();
        if (v === '') continue;
        if (!f.amount) l[f.name] = v;
        else if (Number.isNaN(fen(v))) { el.setAttribute('aria-invalid', 'true'); bad = true; } else l[f.field] = fen(v);
      }
      return l;
    });
    return bad ? null : { org, businessDate: date.value, summary: summary.value.trim(), lines: out };
  }

  // send asks the node to check the voucher (dry) or to record it.
  async function send(dry) {
    unmark(form);
    fill(outcome);
    const v = collect();
    if (!v) return say(outcome, 'vc', 'refused', t('vc.badAmount'));
    check.disabled = submit.disabled = true;
    try {
      const answer = await api('POST', '/v1/vouchers', { voucher: v, validateOnly: dry });
      if (!alive) return;
      const n = number((answer.voucher || {}).number);
      if (dry) return say(outcome, 'vc', 'checked', t('vc.checked', { number: n }));
      const id = answer.entry ? answer.entry.id : '';
      form.reset();
      date.value = today();
      fill(lines);
      addLine();
      addLine();
      // The list of the voucher's month is drawn again first and the
      // outcome said after: the voucher is in the list when it appears.
      month.value = v.businessDate.slice(0, 7);
      await list.restart();
      if (!alive) return;
      say(outcome, 'vc', 'recorded', t('vc.recorded', { number: n, id }), { entry: id });
    } catch (err) {
      if (!alive) return;
      markRefused(form, err);
      say(outcome, 'vc', 'refused', t('vc.refused', { reason: err.reason }));
    } finally {
      check.disabled = submit.disabled = false;
    }
  }

  function entryLink(id) {
    if (!id) return '';
    if (!trail) return h('span', { class: 'mono', text: id });
    return h('a', { class: 'mono', text: id, attrs: { href: '#/trail?id=' + encodeURIComponent(id) } });
  }

  function row(rec) {
    const v = rec.voucher || {};
    const id = rec.entry ? rec.entry.id : '';
    const ls = v.lines || [];
    let mark = '';
    if (rec.reversedBy) mark = [t('vc.reversedBy'), ' ', entryLink(rec.reversedBy)];
    if (v.reversesVoucherId) mark = [t('vc.reverses'), ' ', entryLink(v.reversesVoucherId)];
    return h('tr', { class: rec.reversedBy ? 'reversed' : (v.reversesVoucherId ? 'red' : ''), attrs: { 'data-entry': id, 'data-number': v.number || '' } },
      h('td', { text: number(v.number) }),
      h('td', { text: v.businessDate }),
      h('td', { text: v.summary }),
      h('td', {}, h('ul', { class: 'vc-entries' }, ls.map((l) => h('li', {
        text: t(Number(l.debitFen || 0) !== 0 ? 'vc.dr' : 'vc.cr', { account: l.account, amount: yuan(Number(l.debitFen || 0) + Number(l.creditFen || 0)) }) + (l.counterparty ? ' · ' + l.counterparty : ''),
      })))),
      h('td', { class: 'num', text: yuan(sum(ls.map((l) => l.debitFen))) }),
      h('td', { class: 'num', text: yuan(sum(ls.map((l) => l.creditFen))) }),
      h('td', {}, v.sourceEntryId ? entryLink(v.sourceEntryId) : t('vc.byHand')),
      h('td', {}, mark),
      h('td', {}, mark ? '' : reverseForm(id)));
  }

  // reverseForm is a voucher's reason and red-ink reversal button.
  function reverseForm(id) {
    const reason = h('input', { attrs: { type: 'text', maxlength: '200', 'aria-label': t('vc.reason'), placeholder: t('vc.reason'), 'data-testid': 'vc-reason' } });
    reason.value = drafts.get(id) || '';
    reason.addEventListener('input', () => drafts.set(id, reason.value));
    const btn = h('button', { class: 'danger', text: t('vc.reverse'), attrs: { type: 'button', 'data-testid': 'vc-reverse' } });
    btn.addEventListener('click', async () => {
      const why = reason.value.trim();
      if (!why) {
        reason.setAttribute('aria-invalid', 'true');
        return say(listOutcome, 'vc-rev', 'refused', t('vc.needReason'));
      }
      btn.disabled = true;
      try {
        const answer = await api('POST', '/v1/vouchers/' + encodeURIComponent(id) + '/reversals', { id, reason: why });
        if (!alive) return;
        drafts.delete(id);
        const red = answer.entry ? answer.entry.id : '';
        await list.load();
        if (!alive) return;
        say(listOutcome, 'vc-rev', 'recorded', t('vc.reversed', { number: number((answer.voucher || {}).number), id: red }), { entry: red });
      } catch (err) {
        if (!alive) return;
        if (err.fields.includes('reason')) reason.setAttribute('aria-invalid', 'true');
        say(listOutcome, 'vc-rev', 'refused', t('vc.refused', { reason: err.reason }));
      } finally {
        btn.disabled = false;
      }
    });
    return h('div', { class: 'decide' }, reason, btn);
  }
}
