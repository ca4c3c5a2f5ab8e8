// The village accountant's transactions: the list (GET /v1/transactions,
// filtered by kind, paged with pageToken) and the form recording one
// (POST /v1/transactions), showing the rule hits that only warn after it is
// recorded, and a blocking rule's reason next to the form when refused.
import { h, fill } from '../dom.js';

const kinds = ['EXPENSE', 'INCOME', 'TRANSFER', 'LOAN_OUT', 'LOAN_IN'];
const methods = ['BANK_TRANSFER', 'CASH', 'VILLAGE_CARD', 'OTHER'];
const pageSize = 20;

// fen parses an amount in yuan ("1234.5") into fen, or NaN.
export function fen(yuan) {
  const m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(yuan);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

function yuan(amountFen) {
  const f = Number(amountFen || 0);
  return (f / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  const state = { kind: '', tokens: [''], page: 0 };
  let alive = true;

  // The list.
  const kindSelect = h('select', { attrs: { id: 'tx-filter-kind', 'data-testid': 'tx-filter-kind' } },
    h('option', { text: t('tx.kind.all'), attrs: { value: '' } }),
    kinds.map((k) => h('option', { text: t('tx.kind.' + k), attrs: { value: k } })));
  kindSelect.addEventListener('change', () => { state.kind = kindSelect.value; state.tokens = ['']; state.page = 0; load(); });
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'tx-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'tx-rows' } });
  const prev = h('button', { text: t('list.prev'), attrs: { type: 'button', 'data-testid': 'tx-prev' } });
  const next = h('button', { text: t('list.next'), attrs: { type: 'button', 'data-testid': 'tx-next' } });
  prev.addEventListener('click', () => { if (state.page > 0) { state.page--; load(); } });
  next.addEventListener('click', () => { state.page++; load(); });
  const cols = ['tx.col.date', 'tx.col.kind', 'tx.col.amount', 'tx.col.method', 'tx.col.counterparty', 'tx.col.summary', 'tx.col.voucher', 'tx.col.entry'];
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only', text: t('tx.list') }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t(c), attrs: { scope: 'col' } })))),
    tbody);

  // The form.
  const form = buildForm(t);
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'tx-outcome', 'aria-live': 'polite' } });
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });

  fill(root,
    h('h1', { text: t('tx.title') }),
    h('div', { class: 'columns' },
      h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': 'tx-list-title' } },
        h('h2', { text: t('tx.list'), attrs: { id: 'tx-list-title' } }),
        h('div', { class: 'toolbar' },
          h('label', { text: t('tx.filter.kind'), attrs: { for: 'tx-filter-kind' } }), kindSelect),
        // Focusable: a table wider than its panel scrolls by keyboard too.
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('tx.table') } }, table),
        h('div', { class: 'pager' }, prev, status, next)),
      h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'tx-form-title' } },
        h('h2', { text: t('tx.new'), attrs: { id: 'tx-form-title' } }),
        form, outcome)));
  load();
  return () => { alive = false; };

  async function load() {
    const token = state.tokens[state.page] || '';
    status.textContent = t('list.loading');
    prev.disabled = next.disabled = true;
    const q = new URLSearchParams({ org, pageSize: String(pageSize) });
    if (state.kind) q.set('kind', 'TRANSACTION_KIND_' + state.kind);
    if (token) q.set('pageToken', token);
    let answer;
    try {
      answer = await api('GET', '/v1/transactions?' + q.toString());
    } catch (err) {
      if (!alive) return;
      fill(tbody);
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const rows = answer.transactions || [];
    state.tokens[state.page + 1] = answer.nextPageToken || '';
    fill(tbody, rows.map(row));
    if (!rows.length) fill(tbody, h('tr', {}, h('td', { text: t('list.empty'), attrs: { colspan: cols.length } })));
    status.textContent = t('list.page', { page: state.page + 1, total: Number(answer.totalSize || 0) });
    prev.disabled = state.page === 0;
    next.disabled = !answer.nextPageToken;
  }

  function row(rec) {
    const tx = rec.transaction || {};
    const cp = tx.counterparty || {};
    const kind = String(tx.kind || '').replace('TRANSACTION_KIND_', '');
    const method = String(tx.paymentMethod || '').replace('PAYMENT_METHOD_', '');
    return h('tr', { class: rec.reversedBy ? 'reversed' : '', attrs: { 'data-entry': rec.entry ? rec.entry.id : '' } },
      h('td', { text: tx.businessDate }),
      h('td', { text: kind ? t('tx.kind.' + kind) : '' }),
      h('td', { class: 'num', text: yuan(tx.amountFen) }),
      h('td', { text: method ? t('tx.method.' + method) : '' }),
      h('td', { text: cp.name }),
      h('td', { text: tx.summary }),
      h('td', { text: tx.voucherNumber }),
      h('td', { class: 'mono', text: rec.entry ? rec.entry.id : '' }));
  }

  async function submit() {
    const v = (name) => form.elements[name].value.trim();
    const amount = fen(v('amount'));
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    if (!(amount > 0)) {
      form.elements.amount.setAttribute('aria-invalid', 'true');
      return show('refused', t('tx.badAmount'));
    }
    const cp = { name: v('cpName') };
    if (v('cpId')) cp.idNumber = v('cpId');
    if (v('cpBank')) cp.bankAccount = v('cpBank');
    const tx = {
      org, kind: 'TRANSACTION_KIND_' + v('kind'), amountFen: amount,
      paymentMethod: 'PAYMENT_METHOD_' + v('method'), counterparty: cp,
      businessDate: v('date'), summary: v('summary'), voucherNumber: v('voucher'),
    };
    for (const [field, name] of [['invoiceCode', 'invoiceCode'], ['invoiceNumber', 'invoiceNumber'], ['category', 'category'], ['budgetLine', 'budgetLine']]) {
      if (v(name)) tx[field] = v(name);
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    fill(outcome);
    try {
      const answer = await api('POST', '/v1/transactions', { transaction: tx });
      if (!alive) return;
      const hits = answer.hits || [];
      show(hits.length ? 'warned' : 'recorded', t('tx.recorded', { id: answer.entry ? answer.entry.id : '' }), hits);
      form.reset();
      form.elements.date.value = today();
      state.tokens = ['']; state.page = 0;
      load();
    } catch (err) {
      if (!alive) return;
      for (const f of err.fields) {
        const el = form.querySelector(`[data-field="${CSS.escape(f)}"]`);
        if (el) el.setAttribute('aria-invalid', 'true');
      }
      show('refused', err.status === 403 ? t('error.forbidden', { reason: err.reason }) : t('tx.refused', { reason: err.reason }));
    } finally {
      button.disabled = false;
    }
  }

  // show puts the outcome next to the form: a refusal with its reason, or
  // the entry recorded with the rule hits that only warn.
  function show(kind, message, hits = []) {
    fill(outcome, h('div', { class: 'box ' + kind, attrs: { role: kind === 'refused' ? 'alert' : 'status', 'data-testid': 'tx-' + kind } },
      h('p', { text: message }),
      hits.length > 0 && h('p', { text: t('tx.warnings') }),
      hits.length > 0 && h('ul', { class: 'hits' }, hits.map((hit) => h('li', { attrs: { 'data-rule': hit.code } },
        h('span', { class: 'sev sev-' + (hit.severity || 'info'), text: t('sev.' + (hit.severity || 'info')) }), ' ',
        h('strong', { text: hit.code }), ' ',
        h('span', { text: hit.reason }))))));
  }
}

function buildForm(t) {
  const field = (name, label, input, dataField) => {
    input.id = 'tx-' + name;
    input.name = name;
    if (dataField) input.dataset.field = dataField;
    return h('div', { class: 'field' }, h('label', { text: label, attrs: { for: input.id } }), input);
  };
  const text = (attrs = {}) => h('input', { attrs: { type: 'text', ...attrs } });
  const select = (values, prefix, first) => h('select', {}, values.map((k) => h('option', {
    text: t(prefix + k), attrs: { value: k, selected: k === first },
  })));
  const form = h('form', { class: 'tx-form', attrs: { 'data-testid': 'tx-form', novalidate: true } },
    field('kind', t('tx.field.kind'), select(kinds, 'tx.kind.', 'EXPENSE'), 'transaction.kind'),
    field('amount', t('tx.field.amount'), text({ inputmode: 'decimal', required: true, autocomplete: 'off' }), 'transaction.amountFen'),
    field('method', t('tx.field.method'), select(methods, 'tx.method.', 'BANK_TRANSFER'), 'transaction.paymentMethod'),
    field('cpName', t('tx.field.cpName'), text({ required: true }), 'transaction.counterparty.name'),
    field('cpId', t('tx.field.cpId'), text({ autocomplete: 'off' }), 'transaction.counterparty.idNumber'),
    field('cpBank', t('tx.field.cpBank'), text({ inputmode: 'numeric', autocomplete: 'off' }), 'transaction.counterparty.bankAccount'),
    field('date', t('tx.field.date'), h('input', { attrs: { type: 'date', required: true, value: today() } }), 'transaction.businessDate'),
    field('summary', t('tx.field.summary'), text({ required: true, maxlength: 200 }), 'transaction.summary'),
    field('voucher', t('tx.field.voucher'), text({ maxlength: 64 }), 'transaction.voucherNumber'),
    field('invoiceCode', t('tx.field.invoiceCode'), text({ inputmode: 'numeric' }), 'transaction.invoiceCode'),
    field('invoiceNumber', t('tx.field.invoiceNumber'), text({ inputmode: 'numeric' }), 'transaction.invoiceNumber'),
    field('category', t('tx.field.category'), text({ maxlength: 64 }), 'transaction.category'),
    field('budgetLine', t('tx.field.budgetLine'), text({ maxlength: 64 }), 'transaction.budgetLine'),
    h('button', { class: 'primary', text: t('tx.submit'), attrs: { type: 'submit', 'data-testid': 'tx-submit' } }));
  return form;
}
