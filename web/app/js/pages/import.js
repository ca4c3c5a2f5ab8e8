// Import of a sheet (issue 14, the village accountant): a CSV or XLSX cash
// journal dropped or chosen here is sent whole to POST /v1/imports (the
// node reads it with the parser of `sanzi import`), with a progress bar for
// the upload and then for the rows as the node checks and records them (the
// answer is one JSON line per step, read as it arrives). All rows are
// recorded or none: a sheet with any rejected row records nothing and lists
// each one with its row number, field and reason, to fix and import again.
import { h, fill } from '../dom.js';
import { csrf, hooks, ApiError, query } from '../api.js';

// accept is what the file chooser offers; the node checks the content.
const accept = '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

// sendSheet posts file to /v1/imports and calls onStep(step) for the
// upload ({phase: 'UPLOAD', pct}) and each line of the node's answer (an
// ImportSheetResponse); it resolves to the last one, or rejects with an
// ApiError carrying the node's reason (413, 415, ...).
export function sendSheet(file, dryRun, onStep) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/imports' + query({ fileName: file.name, dryRun: dryRun ? 'true' : '' }));
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', csrf());
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
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onStep({ phase: 'UPLOAD', pct: Math.round((e.loaded / e.total) * 100) });
    });
    xhr.addEventListener('progress', lines);
    xhr.addEventListener('load', () => {
      if (xhr.status === 200) {
        lines();
        if (failed) return reject(new ApiError(500, failed));
        if (!last || !last.result) return reject(new ApiError(500, { message: 'the node ended the import without a result' }));
        return resolve(last);
      }
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      const err = new ApiError(xhr.status, body);
      if (xhr.status === 401) hooks.unauthorized(err);
      reject(err);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { message: 'network error' })));
    xhr.send(file);
  });
}

export function render(root, { t }) {
  let alive = true;
  let busy = false;
  const input = h('input', { attrs: { type: 'file', id: 'im-file', accept, 'data-testid': 'im-file', class: 'sr-only' } });
  const chosen = h('p', { class: 'muted', attrs: { 'data-testid': 'im-chosen', 'aria-live': 'polite' }, text: t('im.none') });
  const drop = h('div', { class: 'dropzone', attrs: { 'data-testid': 'im-drop' } },
    h('p', { text: t('im.drop') }),
    h('label', { class: 'file', text: t('im.choose'), attrs: { for: 'im-file' } }), input, chosen);
  const dry = h('input', { attrs: { type: 'checkbox', id: 'im-dry', 'data-testid': 'im-dry' } });
  const go = h('button', { class: 'primary', text: t('im.start'), attrs: { type: 'submit', 'data-testid': 'im-start', disabled: true } });
  const bar = h('progress', { attrs: { max: '100', value: '0', id: 'im-progress', 'data-testid': 'im-progress', 'data-state': 'idle', 'aria-labelledby': 'im-phase' } });
  const phase = h('p', { attrs: { id: 'im-phase', 'data-testid': 'im-phase', role: 'status' }, text: t('im.idle') });
  const outcome = h('div', { attrs: { 'data-testid': 'im-outcome', 'aria-live': 'polite' } });
  let file = null;

  const pick = (f) => {
    if (!f || busy) return;
    file = f;
    chosen.textContent = t('im.chosen', { name: f.name, kb: Math.max(1, Math.round(f.size / 1024)) });
    go.disabled = false;
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
    drop,
    h('div', { class: 'field inline' }, dry, h('label', { text: t('im.dry'), attrs: { for: 'im-dry' } })),
    go);
  form.addEventListener('submit', (e) => { e.preventDefault(); start(); });

  fill(root,
    h('h1', { text: t('im.title') }),
    h('div', { class: 'columns im-columns' },
      h('section', { class: 'panel', attrs: { 'aria-labelledby': 'im-form-title' } },
        h('h2', { text: t('im.sheet'), attrs: { id: 'im-form-title' } }),
        form,
        h('div', { class: 'im-progress' }, bar, phase),
        outcome),
      h('section', { class: 'panel', attrs: { 'aria-labelledby': 'im-help-title' } },
        h('h2', { text: t('im.help'), attrs: { id: 'im-help-title' } }),
        h('p', { text: t('im.help.policy') }),
        h('p', { text: t('im.help.headers') }),
        h('p', { text: t('im.help.limits') }))));
  return () => { alive = false; };

  function show(step) {
    if (!alive) return;
    bar.dataset.state = 'running';
    if (step.phase === 'UPLOAD') {
      bar.value = step.pct;
      phase.textContent = t('im.phase.upload', { pct: step.pct });
      return;
    }
    const total = Number(step.rowsTotal || 0);
    const done = Number(step.rowsChecked || 0);
    bar.max = Math.max(total, 1);
    bar.value = done;
    const p = String(step.phase || '').replace('IMPORT_PHASE_', '');
    phase.textContent = t('im.phase.' + (p || 'CHECK'), { done, total });
  }

  async function start() {
    if (!file || busy) return;
    busy = true;
    go.disabled = true;
    fill(outcome);
    bar.max = 100;
    bar.value = 0;
    try {
      const last = await sendSheet(file, dry.checked, show);
      if (!alive) return;
      bar.max = 1;
      bar.value = 1;
      bar.dataset.state = 'done';
      phase.textContent = t('im.phase.DONE');
      result(last.result, dry.checked);
    } catch (err) {
      if (!alive) return;
      bar.dataset.state = 'failed';
      phase.textContent = t('im.failed');
      const why = err.status === 413 ? 'im.tooLarge' : err.status === 415 ? 'im.wrongType' : 'im.refused';
      fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'im-refused', 'data-status': String(err.status) } },
        h('p', { text: t(why, { reason: err.reason }) })));
    } finally {
      busy = false;
      go.disabled = !file;
    }
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
    fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'im-rejected' } },
      h('p', { text: t('im.rejected', { n: total, rows: received }) }),
      total > rej.length && h('p', { text: t('im.moreRejected', { shown: rej.length }) })),
    h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('im.rejections') } },
      h('table', { class: 'list' },
        h('caption', { class: 'sr-only', text: t('im.rejections') }),
        h('thead', {}, h('tr', {}, ['im.col.row', 'im.col.field', 'im.col.reason'].map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
        h('tbody', { attrs: { 'data-testid': 'im-rejections' } }, rej.map((r) => h('tr', { attrs: { 'data-row': String(r.row || 0) } },
          h('td', { class: 'num', text: String(r.row || '') }),
          h('td', { class: 'mono', text: r.field || '' }),
          h('td', { class: 'wrap-text', text: r.reason || '' })))))));
  }
}
