// A register (contracts.js, assets.js): a list the node filters and pages
// (GET with the filters and pageToken: one page is loaded at a time, so a
// village with many entries costs a page), each row opening its detail
// beside the list (its id kept in the address, #/route?id=...), and CSV or
// XLSX exports of every matching row.
import { h, fill } from '../dom.js';
import { exportButtons } from '../export.js';

const pageSize = 20;
// searchDelay is the pause after typing before the list is asked again.
const searchDelay = 300;
// Exports fetch every matching row, a thousand at a time, up to maxExport.
const exportPage = 1000;
const maxExport = 20000;

// yuan shows an amount in fen as yuan with two decimals.
export function yuan(amountFen) {
  return (Number(amountFen || 0) / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// yuanNumber is an amount in fen as a number of yuan, for an export cell.
export function yuanNumber(amountFen) {
  return Number(amountFen || 0) / 100;
}

// facts is a two-column table of [label, value] pairs (values as text).
export function facts(pairs, testid) {
  return h('table', { class: 'facts', attrs: { 'data-testid': testid } },
    h('tbody', {}, pairs.filter(Boolean).map(([label, value]) => h('tr', {},
      h('th', { text: label, attrs: { scope: 'row' } }),
      h('td', { text: value === undefined || value === null ? '' : String(value) })))));
}

// table is a list table: cols [{label, num}], rows of [cells] (strings or
// nodes), each row's attrs from rowAttrs(i).
export function table(caption, cols, rows, testid, rowAttrs = () => ({})) {
  const body = h('tbody', { attrs: { 'data-testid': testid } },
    rows.map((cells, i) => h('tr', { attrs: rowAttrs(i) }, cells.map((c, j) => h('td', { class: cols[j].num ? 'num' : '' }, c)))));
  return h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': caption } },
    h('table', { class: 'list' },
      h('caption', { class: 'sr-only', text: caption }),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: c.label, attrs: { scope: 'col' } })))),
      body));
}

// renderRegister draws the register spec describes in root. spec:
//   id: prefix of element ids and test ids; route: the page's route;
//   title, list, table, detailTitle: dictionary keys; path: the list's
//   REST path; field: the answer's list field; exportName: file name;
//   filters: [{name (query parameter), kind: search|select|check, label,
//   options: [{value, label}]}]; columns: [{label, get(rec) for the cell
//   and the export, show(rec) for the cell when it differs, num}];
//   detail(holder, id): draws one record (async), returns its title.
export function renderRegister(root, { t, api }, spec) {
  const state = { tokens: [''], page: 0, seq: 0 };
  let alive = true;
  let timer = 0;
  const controls = spec.filters.map((f) => filterControl(f));
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': spec.id + '-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': spec.id + '-rows' } });
  const prev = h('button', { text: t('list.prev'), attrs: { type: 'button', 'data-testid': spec.id + '-prev' } });
  const next = h('button', { text: t('list.next'), attrs: { type: 'button', 'data-testid': spec.id + '-next' } });
  prev.addEventListener('click', () => { if (state.page > 0) { state.page--; load(); } });
  next.addEventListener('click', () => { state.page++; load(); });
  const note = h('p', { class: 'hint', attrs: { 'data-testid': spec.id + '-export-note', 'aria-live': 'polite' } });
  const detail = h('section', { class: 'panel detail-panel hidden', attrs: { 'aria-labelledby': spec.id + '-detail-title', 'data-testid': spec.id + '-detail' } });
  fill(root,
    h('h1', { text: t(spec.title) }),
    h('div', { class: 'columns wide-detail' },
      h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': spec.id + '-list-title' } },
        h('div', { class: 'panel-head' },
          h('h2', { text: t(spec.list), attrs: { id: spec.id + '-list-title' } }),
          h('div', { class: 'exports' }, exportButtons(t, spec.id, spec.exportName, everyRow))),
        note,
        h('form', { class: 'toolbar wrap filters', attrs: { role: 'search', 'data-testid': spec.id + '-filters' } },
          controls.map((c) => c.wrap)),
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t(spec.table) } },
          h('table', { class: 'list' },
            h('caption', { class: 'sr-only', text: t(spec.list) }),
            h('thead', {}, h('tr', {}, spec.columns.map((c) => h('th', { text: c.label, attrs: { scope: 'col' } })))),
            tbody)),
        h('div', { class: 'pager' }, prev, status, next)),
      detail));
  root.querySelector('form.filters').addEventListener('submit', (e) => { e.preventDefault(); restart(); });
  load();
  const want = new URLSearchParams(location.hash.split('?')[1] || '').get('id');
  if (want) open(want);
  return () => { alive = false; clearTimeout(timer); };

  function filterControl(f) {
    const id = spec.id + '-filter-' + f.name;
    let input;
    if (f.kind === 'select') {
      input = h('select', { attrs: { id, 'data-testid': id } },
        h('option', { text: t('reg.any'), attrs: { value: '' } }),
        f.options.map((o) => h('option', { text: o.label, attrs: { value: o.value } })));
      input.addEventListener('change', restart);
    } else if (f.kind === 'check') {
      input = h('input', { attrs: { id, type: 'checkbox', 'data-testid': id } });
      input.addEventListener('change', restart);
    } else {
      input = h('input', { attrs: { id, type: 'search', maxlength: '64', autocomplete: 'off', 'data-testid': id, placeholder: f.placeholder || null } });
      input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(restart, searchDelay); });
    }
    const label = h('label', { text: f.label, attrs: { for: id } });
    const wrap = f.kind === 'check' ? h('span', { class: 'field inline' }, input, label) : h('span', { class: 'field inline' }, label, input);
    return { f, input, wrap };
  }

  // params are the filters as query parameters.
  function params() {
    const q = new URLSearchParams();
    for (const { f, input } of controls) {
      if (f.kind === 'check') { if (input.checked) q.set(f.name, 'true'); } else if (input.value.trim() !== '') q.set(f.name, input.value.trim());
    }
    return q;
  }

  function restart() {
    clearTimeout(timer);
    state.tokens = [''];
    state.page = 0;
    load();
  }

  async function load() {
    const mine = ++state.seq;
    const q = params();
    q.set('pageSize', String(pageSize));
    const token = state.tokens[state.page] || '';
    if (token) q.set('pageToken', token);
    status.textContent = t('list.loading');
    prev.disabled = next.disabled = true;
    let answer;
    try {
      answer = await api('GET', spec.path + '?' + q.toString());
    } catch (err) {
      if (!alive || mine !== state.seq) return;
      fill(tbody);
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive || mine !== state.seq) return;
    const recs = answer[spec.field] || [];
    state.tokens[state.page + 1] = answer.nextPageToken || '';
    fill(tbody, recs.map(row));
    if (!recs.length) fill(tbody, h('tr', {}, h('td', { text: t('list.empty'), attrs: { colspan: spec.columns.length } })));
    status.textContent = t('list.page', { page: state.page + 1, total: Number(answer.totalSize || 0) });
    prev.disabled = state.page === 0;
    next.disabled = !answer.nextPageToken;
  }

  function row(rec) {
    const id = rec.entry ? rec.entry.id : '';
    return h('tr', { class: rec.reversedBy ? 'reversed' : '', attrs: { 'data-entry': id } },
      spec.columns.map((c, i) => {
        const v = c.show ? c.show(rec) : c.get(rec);
        const td = h('td', { class: c.num ? 'num' : '' });
        if (i === 0) {
          td.append(h('button', { class: 'link', text: v, attrs: { type: 'button', 'data-testid': spec.id + '-open', 'aria-label': t('reg.open', { what: String(v) }) }, on: { click: () => open(id) } }));
        } else {
          td.textContent = v === undefined || v === null ? '' : String(v);
        }
        return td;
      }));
  }

  // open shows one record's detail beside the list and keeps its id in the
  // address (without a new history entry or a reload of the page).
  async function open(id) {
    history.replaceState(null, '', '#/' + spec.route + '?id=' + encodeURIComponent(id));
    detail.classList.remove('hidden');
    const body = h('div', { attrs: { 'data-testid': spec.id + '-detail-body', 'aria-busy': 'true' } }, h('p', { text: t('list.loading') }));
    const close = h('button', { text: t('reg.close'), attrs: { type: 'button', 'data-testid': spec.id + '-close' } });
    close.addEventListener('click', () => {
      detail.classList.add('hidden');
      history.replaceState(null, '', '#/' + spec.route);
    });
    const title = h('h2', { text: t(spec.detailTitle), attrs: { id: spec.id + '-detail-title', tabindex: '-1' } });
    fill(detail, h('div', { class: 'panel-head' }, title, close), body);
    title.focus();
    try {
      const name = await spec.detail(body, id);
      if (name) title.textContent = t(spec.detailTitle) + ' ' + name;
    } catch (err) {
      fill(body, h('p', { class: 'error', attrs: { role: 'alert' }, text: t('error.generic', { reason: err.reason || String(err) }) }));
    }
    body.removeAttribute('aria-busy');
    body.dataset.id = id;
  }

  // everyRow fetches every row matching the filters, for an export.
  async function everyRow() {
    const rows = [];
    let token = '';
    note.textContent = t('reg.exporting');
    try {
      do {
        const q = params();
        q.set('pageSize', String(exportPage));
        if (token) q.set('pageToken', token);
        const answer = await api('GET', spec.path + '?' + q.toString());
        for (const rec of answer[spec.field] || []) rows.push(spec.columns.map((c) => c.get(rec)));
        token = answer.nextPageToken || '';
      } while (token && rows.length < maxExport);
    } catch (err) {
      note.textContent = t('error.generic', { reason: err.reason });
      return null;
    }
    note.textContent = token ? t('reg.exportCut', { n: rows.length }) : '';
    return { header: spec.columns.map((c) => c.label), rows };
  }
}
