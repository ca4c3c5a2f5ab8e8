// The village accountant's transactions: the list (GET /v1/transactions,
// searched by text and filtered by kind, business date, amount and payment
// method, the filters kept in the address; paged with pageToken: one page
// is loaded at a time; register-list.js's filterBar and pagedList) and the
// form recording one (POST /v1/transactions). While the form is filled
// a dry run (validateOnly) shows the rules that would warn or refuse, before
// anything is recorded; after submitting, the hits of the recorded entry.
// Receipts dropped on the form are uploaded (POST /v1/attachments, with
// progress) and named by their SHA-256 in the transaction; once it is
// recorded they are shown locked.
import { h, fill } from '../dom.js';
import { hooks } from '../api.js';
import { uploadFile } from './upload.js';
import { fen, yuan, filterBar, pagedList } from './register-list.js';

// fen is also the entries page's parser of amounts (entries.js).
export { fen };

const kinds = ['EXPENSE', 'INCOME', 'TRANSFER', 'LOAN_OUT', 'LOAN_IN'];
const methods = ['BANK_TRANSFER', 'CASH', 'VILLAGE_CARD', 'OTHER'];
// checkDelay is how long the form waits after the last keystroke before the
// dry run, so that typing does not send a call per key.
const checkDelay = 400;
// maxReceipts bounds the receipts of one transaction in the form.
const maxReceipts = 20;

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  let alive = true;

  // The list: searched and filtered by the node, the filters in the
  // address (#/transactions?query=...) so that a reload keeps them.
  const cols = ['tx.col.date', 'tx.col.kind', 'tx.col.amount', 'tx.col.method', 'tx.col.counterparty', 'tx.col.summary', 'tx.col.voucher', 'tx.col.entry'];
  const bar = filterBar(t, 'tx', [
    { name: 'query', kind: 'search', label: t('tx.filter.query'), placeholder: t('tx.filter.queryHint') },
    { name: 'kind', kind: 'select', prefix: 'TRANSACTION_KIND_', label: t('tx.filter.kind'), options: kinds.map((k) => ({ value: k, label: t('tx.kind.' + k) })) },
    { name: 'fromDate', kind: 'date', label: t('tx.filter.from') },
    { name: 'toDate', kind: 'date', label: t('tx.filter.to') },
    { name: 'minAmountFen', kind: 'amount', label: t('tx.filter.min') },
    { name: 'maxAmountFen', kind: 'amount', label: t('tx.filter.max') },
    { name: 'paymentMethod', kind: 'select', prefix: 'PAYMENT_METHOD_', label: t('tx.filter.method'), options: methods.map((m) => ({ value: m, label: t('tx.method.' + m) })) },
  ], () => list.restart(), t('tx.filter.clear'));
  bar.restore(new URLSearchParams(location.hash.split('?')[1] || ''));
  const list = pagedList({
    t, api, id: 'tx', path: '/v1/transactions', field: 'transactions', colspan: cols.length, row, route: 'transactions',
    params: bar.params, fixed: { org },
    empty: (q) => {
      if (q.get('query')) return t('tx.search.noneFor', { q: q.get('query') });
      return q.toString() ? t('tx.search.none') : t('list.empty');
    },
  });
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only', text: t('tx.list') }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t(c), attrs: { scope: 'col' } })))),
    list.tbody);

  // The form.
  const form = buildForm(t);
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'tx-outcome', 'aria-live': 'polite' } });
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });

  // The rule check while filling: a dry run after each pause in typing;
  // an answer older than the latest call is dropped.
  const check = form.querySelector('[data-testid="tx-check"]');
  let checkTimer = 0;
  let checkSeq = 0;
  form.addEventListener('input', scheduleCheck);
  form.addEventListener('change', scheduleCheck);

  // Receipts: dropped on the zone or chosen with its file input.
  const receipts = []; // {name, size, sha256, state: uploading|done|failed, li}
  const drop = form.querySelector('[data-testid="tx-drop"]');
  const fileInput = form.querySelector('#tx-files');
  const receiptList = form.querySelector('[data-testid="tx-receipts"]');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    for (const f of (e.dataTransfer && e.dataTransfer.files) || []) upload(f);
  });
  fileInput.addEventListener('change', (e) => {
    e.stopPropagation();
    for (const f of fileInput.files || []) upload(f);
    fileInput.value = '';
  });

  fill(root,
    h('h1', { text: t('tx.title') }),
    h('div', { class: 'columns' },
      h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': 'tx-list-title' } },
        h('h2', { text: t('tx.list'), attrs: { id: 'tx-list-title' } }),
        bar.form,
        // Focusable: a table wider than its panel scrolls by keyboard too.
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('tx.table') } }, table),
        list.pager),
      h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'tx-form-title' } },
        h('h2', { text: t('tx.new'), attrs: { id: 'tx-form-title' } }),
        form, outcome)));
  list.load();
  return () => { alive = false; clearTimeout(checkTimer); bar.stop(); list.stop(); };

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

  // collect is the transaction the form describes, or null with the
  // amount marked when it is not a number of yuan.
  function collect() {
    const v = (name) => form.elements[name].value.trim();
    const amount = fen(v('amount'));
    if (!(amount > 0)) return null;
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
    const shas = receipts.filter((r) => r.state === 'done').map((r) => r.sha256);
    if (shas.length) tx.attachments = shas;
    return tx;
  }

  // ready: the fields a check needs are filled (a dry run of a half-filled
  // form would only list what is missing).
  function ready() {
    const v = (name) => form.elements[name].value.trim();
    return fen(v('amount')) > 0 && v('cpName') !== '' && v('summary') !== '' && v('date') !== '';
  }

  function scheduleCheck(e) {
    if (e && e.target === fileInput) return;
    clearTimeout(checkTimer);
    checkTimer = setTimeout(runCheck, checkDelay);
  }

  // runCheck asks the node what recording the form would raise, recording
  // nothing (validateOnly), and shows it above the submit button.
  async function runCheck() {
    const seq = ++checkSeq;
    if (!ready()) {
      clearFields();
      return showCheck('idle', t('tx.check.idle'));
    }
    if (receipts.some((r) => r.state === 'uploading')) return showCheck('pending', t('tx.check.uploading'));
    showCheck('pending', t('tx.check.pending'));
    try {
      const answer = await api('POST', '/v1/transactions', { transaction: collect(), validateOnly: true }, { quiet: true });
      if (!alive || seq !== checkSeq) return;
      clearFields();
      const hits = answer.hits || [];
      showCheck(hits.length ? 'warned' : 'clean', hits.length ? t('tx.check.warned') : t('tx.check.clean'), hits);
    } catch (err) {
      if (!alive || seq !== checkSeq) return;
      if (err.status === 401) return hooks.unauthorized(err);
      clearFields();
      if (markFields(err)) return showCheck('invalid', t('tx.check.invalid', { reason: err.reason }));
      showCheck('blocked', t('tx.check.blocked', { reason: err.reason }));
    }
  }

  function showCheck(state, message, hits = []) {
    check.dataset.state = state;
    fill(check, h('p', { text: message }), hitList(hits));
  }

  function hitList(hits) {
    return hits.length > 0 && h('ul', { class: 'hits' }, hits.map((hit) => h('li', { attrs: { 'data-rule': hit.code } },
      h('span', { class: 'sev sev-' + (hit.severity || 'info'), text: t('sev.' + (hit.severity || 'info')) }), ' ',
      h('strong', { text: hit.code }), ' ',
      h('span', { text: hit.reason }))));
  }

  // markFields shows each refused field's reason next to it (the node
  // names fields as "transaction.summary", "transaction.attachments[0]");
  // it says whether the refusal named any field of the form.
  function markFields(err) {
    let any = false;
    for (const d of err.details || []) {
      for (const fv of d.fieldViolations || []) {
        const name = String(fv.field || '');
        const el = form.querySelector(`[data-field="${CSS.escape(name)}"]`) ||
          form.querySelector(`[data-field="${CSS.escape(name.replace(/\[\d+\]$/, ''))}"]`);
        if (!el) continue;
        any = true;
        el.setAttribute('aria-invalid', 'true');
        const box = el.closest('.field') || el;
        const id = (el.id || 'tx-receipts') + '-error';
        let msg = document.getElementById(id);
        if (!msg) {
          msg = h('p', { class: 'field-error', attrs: { id, 'data-testid': 'field-error', 'data-for': name } });
          box.append(msg);
        }
        msg.textContent = fv.description || err.reason;
        el.setAttribute('aria-describedby', id);
      }
    }
    return any;
  }

  function clearFields() {
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('[aria-describedby]')) el.removeAttribute('aria-describedby');
    for (const el of form.querySelectorAll('.field-error')) el.remove();
  }

  // upload sends one receipt to the node (uploadFile), its progress shown.
  function upload(file) {
    if (receipts.length >= maxReceipts) return showCheck('invalid', t('tx.receipt.tooMany', { max: maxReceipts }));
    const bar = h('progress', { attrs: { max: '100', value: '0', 'aria-label': t('tx.receipt.progress', { name: file.name }) } });
    const state = h('span', { class: 'receipt-state', text: t('tx.receipt.uploading') });
    const r = { name: file.name, size: file.size, sha256: '', state: 'uploading' };
    const remove = h('button', { class: 'link', text: t('tx.receipt.remove'), attrs: { type: 'button', 'aria-label': t('tx.receipt.removeName', { name: file.name }) } });
    remove.addEventListener('click', () => unlist(r, true));
    r.li = h('li', { class: 'receipt', attrs: { 'data-testid': 'tx-receipt' } },
      h('span', { class: 'receipt-name', text: file.name }), ' ', bar, ' ', state, ' ', remove);
    receipts.push(r);
    receiptList.append(r.li);
    scheduleCheck();
    uploadFile(file, (pct) => { bar.value = pct; }).then((a) => {
      r.sha256 = a.sha256;
      r.state = 'done';
      r.li.dataset.sha256 = r.sha256;
      state.textContent = t('tx.receipt.done');
    }, (err) => {
      r.state = 'failed';
      state.textContent = t('tx.receipt.failed', { reason: err.status ? err.reason : t('tx.receipt.network') });
    }).finally(() => {
      r.li.dataset.state = r.state;
      scheduleCheck();
    });
  }

  // unlist takes a receipt off the form; a stored one not yet named by an
  // entry is deleted at the node (a locked one the node keeps).
  async function unlist(r, del) {
    const i = receipts.indexOf(r);
    if (i >= 0) receipts.splice(i, 1);
    r.li.remove();
    scheduleCheck();
    if (del && r.state === 'done') {
      try {
        await api('DELETE', '/v1/attachments/' + encodeURIComponent(r.sha256), undefined, { quiet: true });
      } catch {
        // Kept at the node (named by an entry already, or refused): the
        // transaction no longer names it either way.
      }
    }
  }

  // lockedReceipts shows the receipts of a recorded entry as the node has
  // them: locked by the entry, with no way to remove them.
  async function lockedReceipts(box, shas) {
    const items = [];
    for (const sha of shas) {
      let a = { sha256: sha };
      try {
        a = (await api('GET', '/v1/attachments/' + encodeURIComponent(sha), undefined, { quiet: true })).attachment || a;
      } catch {
        // Shown by its hash alone.
      }
      items.push(h('li', { class: 'receipt locked', attrs: { 'data-testid': 'tx-locked', 'data-sha256': sha, 'data-locked-by': a.lockedBy || '' } },
        h('span', { class: 'lock', text: t('tx.receipt.locked') }), ' ',
        h('span', { class: 'receipt-name', text: a.fileName || sha.slice(0, 12) }), ' ',
        h('span', { class: 'mono', text: a.lockedBy ? t('tx.receipt.lockedBy', { id: a.lockedBy }) : '' })));
    }
    if (!alive) return;
    box.append(h('p', { text: t('tx.receipt.lockedTitle') }), h('ul', { class: 'receipts' }, items));
  }

  async function submit() {
    clearTimeout(checkTimer);
    checkSeq++;
    clearFields();
    const tx = collect();
    if (!tx) {
      form.elements.amount.setAttribute('aria-invalid', 'true');
      return show('refused', t('tx.badAmount'));
    }
    if (receipts.some((r) => r.state === 'uploading')) return show('refused', t('tx.check.uploading'));
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    fill(outcome);
    try {
      const answer = await api('POST', '/v1/transactions', { transaction: tx });
      if (!alive) return;
      const hits = answer.hits || [];
      form.reset();
      form.elements.date.value = today();
      for (const r of [...receipts]) unlist(r, false);
      showCheck('idle', t('tx.check.idle'));
      // The list is drawn again first and the outcome said after: the new
      // entry is in the list when the message appears.
      await list.restart();
      if (!alive) return;
      show(hits.length ? 'warned' : 'recorded', t('tx.recorded', { id: answer.entry ? answer.entry.id : '' }), hits);
      if (tx.attachments) lockedReceipts(outcome.firstChild, tx.attachments);
    } catch (err) {
      if (!alive) return;
      markFields(err);
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
      hitList(hits)));
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
    h('div', { class: 'field' },
      h('span', { class: 'label', text: t('tx.receipt.title'), attrs: { id: 'tx-receipts-title' } }),
      h('div', { class: 'dropzone', attrs: { 'data-testid': 'tx-drop', 'data-field': 'transaction.attachments', role: 'group', 'aria-labelledby': 'tx-receipts-title' } },
        h('p', { text: t('tx.receipt.drop') }),
        h('label', { class: 'file', text: t('tx.receipt.choose'), attrs: { for: 'tx-files' } }),
        h('input', { class: 'sr-only', attrs: { type: 'file', id: 'tx-files', multiple: true } })),
      h('ul', { class: 'receipts', attrs: { 'data-testid': 'tx-receipts' } })),
    h('div', { class: 'check', attrs: { 'data-testid': 'tx-check', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' } },
      h('p', { text: t('tx.check.idle') })),
    h('button', { class: 'primary', text: t('tx.submit'), attrs: { type: 'submit', 'data-testid': 'tx-submit' } }));
  return form;
}
