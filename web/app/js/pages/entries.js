// The village accountant's other entries: contracts with their payment
// schedule (POST /v1/contracts), assets registered, appraised with their
// report and disposed (POST /v1/assets, .../appraisals, .../disposals), and
// reversals (POST /v1/reversals). Contracts and disposals are checked
// against the rules while filling (validateOnly); every refusal is shown
// next to the field the node names.
import { h, fill } from '../dom.js';
import { hooks } from '../api.js';
import { fen } from './transactions.js';
import { uploadFile } from './upload.js';

const checkDelay = 400;
const maxSchedule = 60;

function today() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// Each form: the request's top field (root), the path it posts to, whether
// the node takes a dry run, and its fields. A field's path is the name the
// node gives it in a refusal; its kind says how the typed value is sent.
const forms = {
  contract: {
    root: 'contract', dryRun: true, schedule: true,
    path: () => '/v1/contracts',
    fields: [
      { name: 'kind', kind: 'select', path: 'kind', prefix: 'CONTRACT_KIND_', options: ['LEASE', 'CONTRACTING_OUT'] },
      { name: 'contractNumber', path: 'contractNumber', required: true },
      { name: 'cpName', path: 'counterparty.name', required: true },
      { name: 'cpId', path: 'counterparty.idNumber' },
      { name: 'cpBank', path: 'counterparty.bankAccount' },
      { name: 'objectKind', kind: 'select', path: 'object.kind', prefix: 'OBJECT_KIND_', options: ['LAND', 'RESOURCE', 'ASSET'] },
      { name: 'objectId', path: 'object.objectId', required: true },
      { name: 'areaMu', kind: 'number', path: 'object.areaMu' },
      { name: 'location', path: 'object.location' },
      { name: 'termStart', kind: 'date', path: 'termStart', required: true },
      { name: 'termEnd', kind: 'date', path: 'termEnd', required: true },
      { name: 'annual', kind: 'yuan', path: 'annualAmountFen', required: true },
      { name: 'award', kind: 'select', path: 'awardMethod', prefix: 'AWARD_METHOD_', options: ['TENDER', 'AUCTION', 'NEGOTIATED'] },
      { name: 'signedDate', kind: 'date', path: 'signedDate', required: true, today: true },
      { name: 'summary', path: 'summary' },
    ],
  },
  register: {
    root: 'asset',
    path: () => '/v1/assets',
    fields: [
      { name: 'assetCode', path: 'assetCode', required: true },
      { name: 'name', path: 'name', required: true },
      { name: 'category', path: 'category' },
      { name: 'originalValue', kind: 'yuan', path: 'originalValueFen', required: true },
      { name: 'acquiredDate', kind: 'date', path: 'acquiredDate', required: true },
      { name: 'location', path: 'location' },
    ],
  },
  appraise: {
    root: 'appraisal',
    path: (b) => '/v1/assets/' + encodeURIComponent(b.appraisal.assetId || '-') + '/appraisals',
    fields: [
      { name: 'assetId', path: 'assetId', required: true },
      { name: 'appraisedValue', kind: 'yuan', path: 'appraisedValueFen', required: true },
      { name: 'appraiser', path: 'appraiser', required: true },
      { name: 'appraisalDate', kind: 'date', path: 'appraisalDate', required: true, today: true },
      { name: 'report', kind: 'file', path: 'reportAttachment', required: true },
    ],
  },
  dispose: {
    root: 'disposal', dryRun: true,
    path: (b) => '/v1/assets/' + encodeURIComponent(b.disposal.assetId || '-') + '/disposals',
    fields: [
      { name: 'assetId', path: 'assetId', required: true },
      { name: 'method', kind: 'select', path: 'method', prefix: 'DISPOSAL_METHOD_', options: ['SALE', 'SCRAP', 'TRANSFER'] },
      { name: 'price', kind: 'yuan', path: 'priceFen', zero: true },
      { name: 'cpName', path: 'counterparty.name' },
      { name: 'cpId', path: 'counterparty.idNumber' },
      { name: 'disposalDate', kind: 'date', path: 'disposalDate', required: true, today: true },
      { name: 'reason', path: 'reason' },
    ],
  },
  reversal: {
    root: 'reversal',
    path: () => '/v1/reversals',
    fields: [
      { name: 'targetId', path: 'targetId', required: true },
      { name: 'reason', path: 'reason' },
    ],
  },
};

// put sets obj's value at a dotted path, making the objects on the way.
function put(obj, path, v) {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) cur = cur[p] = cur[p] || {};
  cur[parts[parts.length - 1]] = v;
}

export function render(root, { me, t, api }) {
  const org = me.nodeOrg;
  let alive = true;
  let stop = () => {};
  const picker = h('select', { attrs: { id: 'en-kind', 'data-testid': 'en-kind' } },
    Object.keys(forms).map((k) => h('option', { text: t('en.form.' + k), attrs: { value: k } })));
  const holder = h('div');
  picker.addEventListener('change', () => open(picker.value));
  fill(root,
    h('h1', { text: t('en.title') }),
    h('section', { class: 'panel form-panel en-panel', attrs: { 'aria-labelledby': 'en-form-title' } },
      h('div', { class: 'toolbar' }, h('label', { text: t('en.pick'), attrs: { for: 'en-kind' } }), picker),
      holder));
  const want = new URLSearchParams(location.hash.split('?')[1] || '').get('form');
  if (want && forms[want]) picker.value = want;
  open(picker.value);
  return () => { alive = false; stop(); };

  function open(kind) {
    stop();
    stop = form(kind);
  }

  // form builds one kind's form in the holder and returns its cleanup.
  function form(kind) {
    const spec = forms[kind];
    const files = {}; // field name → sha256 of the uploaded file
    let timer = 0;
    let seq = 0;
    const el = h('form', { class: 'tx-form', attrs: { 'data-testid': 'en-form', 'data-kind': kind, novalidate: true } });
    for (const f of spec.fields) el.append(field(f));
    const rows = h('tbody', { attrs: { 'data-testid': 'en-schedule' } });
    if (spec.schedule) {
      const add = h('button', { text: t('en.schedule.add'), attrs: { type: 'button', 'data-testid': 'en-schedule-add' } });
      add.addEventListener('click', () => { if (rows.children.length < maxSchedule) addRow(); });
      el.append(h('fieldset', { class: 'schedule' },
        h('legend', { text: t('en.schedule') }),
        h('table', { class: 'list' },
          h('thead', {}, h('tr', {},
            h('th', { text: t('en.schedule.due'), attrs: { scope: 'col' } }),
            h('th', { text: t('en.schedule.amount'), attrs: { scope: 'col' } }),
            h('th', { text: t('en.schedule.remove'), attrs: { scope: 'col' } }))),
          rows),
        add));
    }
    const check = h('div', { class: 'check', attrs: { 'data-testid': 'en-check', 'data-state': 'idle', role: 'status', 'aria-live': 'polite' } });
    if (spec.dryRun) { el.append(check); showCheck('idle', t('en.check.idle')); }
    const button = h('button', { class: 'primary', text: t('en.submit.' + kind), attrs: { type: 'submit', 'data-testid': 'en-submit' } });
    const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'en-outcome', 'aria-live': 'polite' } });
    el.append(button);
    fill(holder, h('h2', { text: t('en.form.' + kind), attrs: { id: 'en-form-title' } }), el, outcome);
    el.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
    if (spec.dryRun) {
      el.addEventListener('input', schedule);
      el.addEventListener('change', schedule);
    }
    return () => clearTimeout(timer);

    function field(f) {
      const id = 'en-' + f.name;
      let input;
      if (f.kind === 'select') {
        input = h('select', {}, f.options.map((o) => h('option', { text: t('en.opt.' + f.prefix + o), attrs: { value: o } })));
      } else if (f.kind === 'file') {
        input = h('input', { attrs: { type: 'file' } });
        input.addEventListener('change', () => report(f, input));
      } else {
        const type = f.kind === 'date' ? 'date' : 'text';
        input = h('input', { attrs: { type, autocomplete: 'off', inputmode: f.kind === 'yuan' || f.kind === 'number' ? 'decimal' : null, value: f.today ? today() : null } });
      }
      input.id = id;
      input.name = f.name;
      input.dataset.field = spec.root + '.' + f.path;
      const wrap = h('div', { class: 'field' }, h('label', { text: t('en.f.' + f.name), attrs: { for: id } }), input);
      if (f.kind === 'file') wrap.append(h('progress', { attrs: { max: '100', value: '0', id: id + '-progress', 'aria-label': t('en.f.' + f.name) } }));
      return wrap;
    }

    // report uploads the file a file field names; its hash goes in the entry.
    async function report(f, input) {
      const file = input.files && input.files[0];
      delete files[f.name];
      if (!file) return;
      const bar = document.getElementById(input.id + '-progress');
      input.dataset.state = 'uploading';
      try {
        const a = await uploadFile(file, (pct) => { bar.value = pct; });
        files[f.name] = a.sha256;
        input.dataset.sha256 = a.sha256;
        input.dataset.state = 'done';
      } catch (err) {
        input.dataset.state = 'failed';
        say('refused', t('tx.receipt.failed', { reason: err.reason }));
      }
    }

    function addRow() {
      const i = rows.children.length;
      const due = h('input', { attrs: { type: 'date', 'aria-label': t('en.schedule.due') + ' ' + (i + 1), 'data-field': `contract.schedule[${i}].dueDate`, id: `en-due-${i}` } });
      const amount = h('input', { attrs: { type: 'text', inputmode: 'decimal', 'aria-label': t('en.schedule.amount') + ' ' + (i + 1), 'data-field': `contract.schedule[${i}].amountFen`, id: `en-amount-${i}` } });
      const del = h('button', { class: 'link', text: t('en.schedule.remove'), attrs: { type: 'button' } });
      const tr = h('tr', { attrs: { 'data-testid': 'en-schedule-row' } }, h('td', { class: 'field' }, due), h('td', { class: 'field' }, amount), h('td', {}, del));
      del.addEventListener('click', () => { tr.remove(); renumber(); schedule(); });
      rows.append(tr);
    }

    // renumber keeps the rows' field names in step with their places, so a
    // refusal naming schedule[1] lands on the second row.
    function renumber() {
      [...rows.children].forEach((tr, i) => {
        const [due, amount] = tr.querySelectorAll('input');
        due.dataset.field = `contract.schedule[${i}].dueDate`; due.id = `en-due-${i}`;
        amount.dataset.field = `contract.schedule[${i}].amountFen`; amount.id = `en-amount-${i}`;
      });
    }

    // collect is the request body, or null with the fields the page itself
    // refuses (an amount that is no number of yuan) marked.
    function collect(mark) {
      const body = { org };
      let ok = true;
      const bad = (input) => { ok = false; if (mark) markOne(input, t('tx.badAmount')); };
      for (const f of spec.fields) {
        const input = el.elements[f.name];
        const v = f.kind === 'file' ? files[f.name] || '' : input.value.trim();
        if (v === '') continue;
        if (f.kind === 'yuan') {
          const n = f.zero && /^\s*0+(\.0+)?\s*$/.test(v) ? 0 : fen(v);
          if (Number.isNaN(n) || (n <= 0 && !f.zero)) { bad(input); continue; }
          put(body, f.path, n);
        } else if (f.kind === 'number') {
          const n = Number(v);
          if (!Number.isFinite(n)) { bad(input); continue; }
          put(body, f.path, n);
        } else if (f.kind === 'select') {
          put(body, f.path, f.prefix + v);
        } else {
          put(body, f.path, v);
        }
      }
      if (spec.schedule) {
        body.schedule = [];
        for (const tr of rows.children) {
          const [due, amount] = tr.querySelectorAll('input');
          const n = fen(amount.value);
          if (amount.value.trim() !== '' && !(n > 0)) { bad(amount); continue; }
          body.schedule.push({ dueDate: due.value, amountFen: n > 0 ? n : 0 });
        }
      }
      return ok ? { [spec.root]: body } : null;
    }

    function ready() {
      return spec.fields.every((f) => !f.required || (f.kind === 'file' ? files[f.name] : el.elements[f.name].value.trim() !== ''));
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(runCheck, checkDelay);
    }

    async function runCheck() {
      const mine = ++seq;
      const body = ready() && collect(false);
      if (!body) return showCheck('idle', t('en.check.idle'));
      showCheck('pending', t('tx.check.pending'));
      try {
        const answer = await api('POST', spec.path(body), { ...body, validateOnly: true }, { quiet: true });
        if (!alive || mine !== seq) return;
        clearMarks();
        const hits = answer.hits || [];
        showCheck(hits.length ? 'warned' : 'clean', hits.length ? t('tx.check.warned') : t('tx.check.clean'), hits);
      } catch (err) {
        if (!alive || mine !== seq) return;
        if (err.status === 401) return hooks.unauthorized(err);
        clearMarks();
        if (mark(err)) return showCheck('invalid', t('tx.check.invalid', { reason: err.reason }));
        showCheck('blocked', t('tx.check.blocked', { reason: err.reason }));
      }
    }

    function showCheck(state, message, hits = []) {
      check.dataset.state = state;
      fill(check, h('p', { text: message }), hitList(hits));
    }

    async function submit() {
      clearTimeout(timer);
      seq++;
      clearMarks();
      const body = collect(true);
      if (!body) return say('refused', t('tx.badAmount'));
      button.disabled = true;
      try {
        const answer = await api('POST', spec.path(body), body);
        if (!alive) return;
        const hits = answer.hits || [];
        say(hits.length ? 'warned' : 'recorded', t('tx.recorded', { id: answer.entry ? answer.entry.id : '' }), hits, answer.entry ? answer.entry.id : '');
      } catch (err) {
        if (!alive) return;
        mark(err);
        say('refused', err.status === 403 ? t('error.forbidden', { reason: err.reason }) : t('tx.refused', { reason: err.reason }));
      } finally {
        button.disabled = false;
      }
    }

    // mark shows each refused field's reason next to it; it says whether
    // the refusal named a field of the form.
    function mark(err) {
      let any = false;
      for (const d of err.details || []) {
        for (const fv of d.fieldViolations || []) {
          const name = String(fv.field || '');
          const input = el.querySelector(`[data-field="${CSS.escape(name)}"]`);
          if (!input) continue;
          any = true;
          markOne(input, fv.description || err.reason);
        }
      }
      return any;
    }

    function markOne(input, text) {
      input.setAttribute('aria-invalid', 'true');
      const id = input.id + '-error';
      let msg = document.getElementById(id);
      if (!msg) {
        msg = h('p', { class: 'field-error', attrs: { id, 'data-testid': 'field-error', 'data-for': input.dataset.field } });
        (input.closest('.field') || input.parentElement).append(msg);
      }
      msg.textContent = text;
      input.setAttribute('aria-describedby', id);
    }

    function clearMarks() {
      for (const x of el.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
      for (const x of el.querySelectorAll('[aria-describedby]')) x.removeAttribute('aria-describedby');
      for (const x of el.querySelectorAll('.field-error')) x.remove();
    }

    function say(state, message, hits = [], id = '') {
      fill(outcome, h('div', { class: 'box ' + state, attrs: { role: state === 'refused' ? 'alert' : 'status', 'data-testid': 'en-' + state, 'data-entry': id } },
        h('p', { text: message }),
        hits.length > 0 && h('p', { text: t('tx.warnings') }),
        hitList(hits)));
    }
  }

  function hitList(hits) {
    return hits.length > 0 && h('ul', { class: 'hits' }, hits.map((hit) => h('li', { attrs: { 'data-rule': hit.code } },
      h('span', { class: 'sev sev-' + (hit.severity || 'info'), text: t('sev.' + (hit.severity || 'info')) }), ' ',
      h('strong', { text: hit.code }), ' ',
      h('span', { text: hit.reason }))));
  }
}
