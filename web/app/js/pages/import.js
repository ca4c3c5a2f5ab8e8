// Import of a sheet (the village accountant), in two modes kept in the
// address (#/import?kind=books):
//
// A cash journal (issue 14): a CSV or XLSX dropped or chosen here is sent
// whole to POST /v1/imports (the node reads it with the parser of `sanzi
// import`), with a progress bar for the upload and then for the rows as
// the node checks and records them (the answer is one JSON line per step,
// read as it arrives).
//
// The books (issue 19): the opening balances and a year of vouchers as
// accountants export them from their bookkeeping software, one row per
// voucher line, sent to POST /v1/books/imports. The sheet is checked first
// (validateOnly: how many vouchers and lines would be recorded, or every
// problem), and only a sheet that passed its check is imported.
//
// Either way all rows are recorded or none: a sheet with any rejected row
// records nothing and lists each one with its row number, column and
// reason, to fix and import again. Reasons quote the sheet's cells: every
// one is drawn as text.
import { h, fill } from '../dom.js';
import { ApiError, query } from '../api.js';
import { allowed } from '../pages.js';
import { openUpload, refusal, postFile } from './upload.js';

// accept is what the file chooser offers; the node checks the content.
const accept = '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const kinds = ['transactions', 'books'];

// sendSheet posts file to /v1/imports and calls onStep(step) for the
// upload ({phase: 'UPLOAD', pct}) and each line of the node's answer (an
// ImportSheetResponse); it resolves to the last one, or rejects with an
// ApiError carrying the node's reason (413, 415, ...).
export function sendSheet(file, dryRun, onStep) {
  return new Promise((resolve, reject) => {
    const xhr = openUpload('/v1/imports' + query({ fileName: file.name, dryRun: dryRun ? 'true' : '' }), (pct) => onStep({ phase: 'UPLOAD', pct }));
    let seen = 0;
    let last = null;
    let failed = null;
    // lines reads the complete lines of the answer not read yet.
    const lines = () => {
      if (xhr.status !== 200) return;
      const text = xhr.responseText;
      let nl;
      while ((nl = text.indexOf('\n', seen)) >= 0) {
        const line = text.slice(seen, nl).trim();
        seen = nl + 1;
        if (!line) continue;
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        if (msg.error) failed = msg.error;
        if (msg.result) { last = msg.result; onStep(last); }
      }
    };
    xhr.addEventListener('progress', lines);
    xhr.addEventListener('load', () => {
      if (xhr.status !== 200) return reject(refusal(xhr));
      lines();
      if (failed) return reject(new ApiError(500, failed));
      if (!last || !last.result) return reject(new ApiError(500, { message: 'the node ended the import without a result' }));
      return resolve(last);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { message: 'network error' })));
    xhr.send(file);
  });
}

// sendBooks posts file to /v1/books/imports for org, checking only when
// dryRun, and resolves to the ImportBooksResponse.
export function sendBooks(file, org, dryRun, onProgress) {
  return postFile('/v1/books/imports' + query({ org, validateOnly: dryRun ? 'true' : '' }), file, onProgress);
}

export function render(root, { me, t }) {
  let alive = true;
  let busy = false;
  const asked = new URLSearchParams(location.hash.split('?')[1] || '').get('kind');
  let kind = kinds.includes(asked) ? asked : 'transactions';
  const vouchers = allowed(me).some((p) => p.route === 'vouchers');

  // What the sheet holds: a cash journal or the books.
  const radios = kinds.map((k) => {
    const r = h('input', { attrs: { type: 'radio', name: 'im-kind', id: 'im-kind-' + k, value: k, 'data-testid': 'im-kind-' + k } });
    r.checked = k === kind;
    r.addEventListener('change', () => { if (r.checked) setKind(k); });
    return h('label', {}, r, ' ', t('im.kind.' + k));
  });
  const kindField = h('fieldset', { class: 'im-kind', attrs: { 'data-testid': 'im-kind' } }, h('legend', { text: t('im.kind') }), radios);

  const input = h('input', { attrs: { type: 'file', id: 'im-file', accept, 'data-testid': 'im-file', class: 'sr-only' } });
  const chosen = h('p', { class: 'muted', attrs: { 'data-testid': 'im-chosen', 'aria-live': 'polite' }, text: t('im.none') });
  const drop = h('div', { class: 'dropzone', attrs: { 'data-testid': 'im-drop' } },
    h('p', { text: t('im.drop') }),
    h('label', { class: 'file', text: t('im.choose'), attrs: { for: 'im-file' } }), input, chosen);
  const dry = h('input', { attrs: { type: 'checkbox', id: 'im-dry', 'data-testid': 'im-dry' } });
  const dryField = h('div', { class: 'field inline' }, dry, h('label', { text: t('im.dry'), attrs: { for: 'im-dry' } }));
  const check = h('button', { text: t('im.books.check'), attrs: { type: 'button', 'data-testid': 'im-check', disabled: true } });
  const go = h('button', { class: 'primary', text: t('im.start'), attrs: { type: 'submit', 'data-testid': 'im-start', disabled: true } });
  const bar = h('progress', { attrs: { max: '100', value: '0', id: 'im-progress', 'data-testid': 'im-progress', 'data-state': 'idle', 'aria-labelledby': 'im-phase' } });
  const phase = h('p', { attrs: { id: 'im-phase', 'data-testid': 'im-phase', role: 'status' }, text: t('im.idle') });
  const outcome = h('div', { attrs: { 'data-testid': 'im-outcome', 'aria-live': 'polite' } });
  const sheetTitle = h('h2', { attrs: { id: 'im-form-title' } });
  const help = h('div', { attrs: { 'data-testid': 'im-help' } });
  let file = null;
  // passed is the file whose books passed their check: only it is imported.
  let passed = null;

  const pick = (f) => {
    if (!f || busy) return;
    file = f;
    passed = null;
    chosen.textContent = t('im.chosen', { name: f.name, kb: Math.max(1, Math.round(f.size / 1024)) });
    fill(outcome);
    buttons();
  };
  input.addEventListener('change', () => pick(input.files && input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    pick(e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0]);
  });
  const form = h('form', { class: 'im-form', attrs: { 'data-testid': 'im-form', novalidate: true } },
    kindField, drop, dryField, h('div', { class: 'toolbar' }, check, go));
  form.addEventListener('submit', (e) => { e.preventDefault(); start(); });
  check.addEventListener('click', () => books(true));

  fill(root,
    h('h1', { text: t('im.title') }),
    h('div', { class: 'columns im-columns' },
      h('section', { class: 'panel', attrs: { 'aria-labelledby': 'im-form-title' } },
        sheetTitle,
        form,
        h('div', { class: 'im-progress' }, bar, phase),
        outcome),
      h('section', { class: 'panel', attrs: { 'aria-labelledby': 'im-help-title' } },
        h('h2', { text: t('im.help'), attrs: { id: 'im-help-title' } }),
        help)));
  setKind(kind);
  return () => { alive = false; };

  // setKind shows the form of one kind of sheet, kept in the address.
  function setKind(k) {
    kind = k;
    passed = null;
    const isBooks = k === 'books';
    sheetTitle.textContent = t(isBooks ? 'im.sheet.books' : 'im.sheet');
    dryField.hidden = isBooks;
    check.hidden = !isBooks;
    go.textContent = t(isBooks ? 'im.books.start' : 'im.start');
    const keys = isBooks ? ['im.help.policy', 'im.help.books.headers', 'im.help.books.opening', 'im.help.books.vouchers', 'im.help.limits']
      : ['im.help.policy', 'im.help.headers', 'im.help.limits'];
    fill(help, keys.map((key) => h('p', { text: t(key) })));
    fill(outcome);
    bar.dataset.state = 'idle';
    bar.max = 100;
    bar.value = 0;
    phase.textContent = t('im.idle');
    history.replaceState(null, '', '#/import' + (isBooks ? '?kind=books' : ''));
    buttons();
  }

  // buttons enables what can be done with the file chosen: a cash journal
  // is imported at once, the books only once the same file passed its check.
  function buttons() {
    check.disabled = busy || !file;
    go.disabled = busy || !file || (kind === 'books' && passed !== file);
  }

  function show(step) {
    if (!alive) return;
    bar.dataset.state = 'running';
    if (step.phase === 'UPLOAD') {
      bar.value = step.pct;
      phase.textContent = kind === 'books' && step.pct >= 100 ? t('im.phase.books') : t('im.phase.upload', { pct: step.pct });
      return;
    }
    const total = Number(step.rowsTotal || 0);
    const done = Number(step.rowsChecked || 0);
    bar.max = Math.max(total, 1);
    bar.value = done;
    const p = String(step.phase || '').replace('IMPORT_PHASE_', '');
    phase.textContent = t('im.phase.' + (p || 'CHECK'), { done, total });
  }

  // begin and end frame a request: the bar from empty to full (or failed).
  function begin() {
    busy = true;
    buttons();
    fill(outcome);
    bar.max = 100;
    bar.value = 0;
  }

  function finished() {
    bar.max = 1;
    bar.value = 1;
    bar.dataset.state = 'done';
    phase.textContent = t('im.phase.DONE');
  }

  function failed(err) {
    bar.dataset.state = 'failed';
    phase.textContent = t('im.failed');
    const why = err.status === 413 ? 'im.tooLarge' : err.status === 415 ? 'im.wrongType' : 'im.refused';
    fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'im-refused', 'data-status': String(err.status) } },
      h('p', { text: t(why, { reason: err.reason }) })));
  }

  async function start() {
    if (kind === 'books') return books(false);
    if (!file || busy) return;
    begin();
    try {
      const last = await sendSheet(file, dry.checked, show);
      if (!alive) return;
      finished();
      result(last.result, dry.checked);
    } catch (err) {
      if (!alive) return;
      failed(err);
    } finally {
      busy = false;
      buttons();
    }
  }

  // books checks (dryRun) or imports the chosen sheet as the books.
  async function books(dryRun) {
    if (!file || busy || (!dryRun && passed !== file)) return;
    const f = file;
    begin();
    try {
      const res = await sendBooks(f, me.nodeOrg, dryRun, (pct) => show({ phase: 'UPLOAD', pct }));
      if (!alive) return;
      finished();
      booksResult(res, dryRun, f);
    } catch (err) {
      if (!alive) return;
      failed(err);
    } finally {
      busy = false;
      buttons();
    }
  }

  function booksResult(res, dryRun, f) {
    const problems = res.problems || [];
    const n = { vouchers: Number(res.vouchers || 0), lines: Number(res.lines || 0) };
    if (problems.length) {
      passed = null;
      rejected(t('im.books.rejected', { n: problems.length }), null,
        problems.map((p) => ({ row: Number(p.line || 0), field: p.column, reason: p.reason })));
      return;
    }
    const counts = { 'data-vouchers': String(n.vouchers), 'data-lines': String(n.lines) };
    if (dryRun) {
      passed = f === file ? f : null;
      fill(outcome, h('div', { class: 'box checked', attrs: { role: 'status', 'data-testid': 'im-checked', ...counts } },
        h('p', { text: t('im.books.checked', n) })));
      return;
    }
    // Recorded: the same sheet again would be refused (the opening
    // balances are in the books), so it must be checked again first.
    passed = null;
    fill(outcome, h('div', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'im-recorded', ...counts } },
      h('p', { text: t('im.books.recorded', n) }),
      vouchers && h('p', {}, h('a', { text: t('im.books.see'), attrs: { href: '#/vouchers', 'data-testid': 'im-see-vouchers' } }))));
  }

  function result(res, dryRun) {
    const rej = res.rejections || [];
    const received = Number(res.rowsReceived || 0);
    const total = Number(res.rejectedTotal || rej.length);
    if (!rej.length) {
      const text = dryRun ? t('im.dryClean', { n: received }) : t('im.recorded', { n: Number(res.rowsRecorded || 0), first: res.firstId || '', last: res.lastId || '' });
      fill(outcome, h('div', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'im-recorded' } }, h('p', { text })));
      return;
    }
    rejected(t('im.rejected', { n: total, rows: received }), total > rej.length && t('im.moreRejected', { shown: rej.length }), rej);
  }

  // rejected lists the rows refused ({row, field, reason}; row 0: the
  // problem is a voucher's, not one row's) under message.
  function rejected(message, more, rows) {
    fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'im-rejected' } },
      h('p', { text: message }),
      more && h('p', { text: more })),
    h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('im.rejections') } },
      h('table', { class: 'list' },
        h('caption', { class: 'sr-only', text: t('im.rejections') }),
        h('thead', {}, h('tr', {}, ['im.col.row', 'im.col.field', 'im.col.reason'].map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
        h('tbody', { attrs: { 'data-testid': 'im-rejections' } }, rows.map((r) => h('tr', { attrs: { 'data-row': String(r.row || 0) } },
          h('td', { class: 'num', text: r.row ? String(r.row) : '' }),
          h('td', { class: 'mono', text: r.field || '' }),
          h('td', { class: 'wrap-text', text: r.reason || '' })))))));
  }
}
