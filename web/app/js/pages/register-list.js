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

// fen parses an amount in yuan ("1234.5") into fen, or NaN.
export function fen(yuan) {
  const m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(yuan);
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] || '0').padEnd(2, '0'));
}

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
//   filters: as filterBar takes them; columns: [{label, get(rec) for the cell
//   and the export, show(rec) for the cell when it differs, num}];
//   detail(holder, id): draws one record (async), returns its title.
export function renderRegister(root, { t, api }, spec) {
  const bar = filterBar(t, spec.id, spec.filters, () => list.restart());
  const list = pagedList({ t, api, id: spec.id, path: spec.path, field: spec.field, colspan: spec.columns.length, row, params: bar.params });
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
        bar.form,
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t(spec.table) } },
          h('table', { class: 'list' },
            h('caption', { class: 'sr-only', text: t(spec.list) }),
            h('thead', {}, h('tr', {}, spec.columns.map((c) => h('th', { text: c.label, attrs: { scope: 'col' } })))),
            list.tbody)),
        list.pager),
      detail));
  list.load();
  const want = new URLSearchParams(location.hash.split('?')[1] || '').get('id');
  if (want) open(want);
  return () => { bar.stop(); list.stop(); };

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
        const q = bar.params();
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

// filterBar is the form of a list's filters. filters: [{name (the query
// parameter), kind: search|select|check|date|amount, label, placeholder,
// options: [{value, label}] and prefix (a select's parameter is prefix +
// value)}]. changed() is called when a filter changes: at once, or after a
// pause in typing (search, amount). clear, when given, labels a button
// that empties every filter. It returns the form, params() (the filters
// as query parameters: an amount typed in yuan goes as fen; one that is
// not an amount is marked and left out), restore(q) (the controls set
// from query parameters, as params() gives them) and stop().
export function filterBar(t, id, filters, changed, clear) {
  let timer = 0;
  const soon = () => { clearTimeout(timer); timer = setTimeout(changed, searchDelay); };
  const now = () => { clearTimeout(timer); changed(); };
  const controls = filters.map(control);
  const form = h('form', { class: 'toolbar wrap filters', attrs: { role: 'search', 'data-testid': id + '-filters' } },
    controls.map((c) => c.wrap),
    clear && h('button', { text: clear, attrs: { type: 'reset', 'data-testid': id + '-filters-clear' } }));
  form.addEventListener('submit', (e) => { e.preventDefault(); now(); });
  // A reset empties the controls after its event: the list is asked again then.
  form.addEventListener('reset', () => setTimeout(now, 0));
  return { form, params, restore, stop: () => clearTimeout(timer) };

  function control(f) {
    const cid = id + '-filter-' + f.name;
    let input;
    if (f.kind === 'select') {
      input = h('select', { attrs: { id: cid, 'data-testid': cid } },
        h('option', { text: t('reg.any'), attrs: { value: '' } }),
        f.options.map((o) => h('option', { text: o.label, attrs: { value: o.value } })));
      input.addEventListener('change', now);
    } else if (f.kind === 'check') {
      input = h('input', { attrs: { id: cid, type: 'checkbox', 'data-testid': cid } });
      input.addEventListener('change', now);
    } else if (f.kind === 'date') {
      input = h('input', { attrs: { id: cid, type: 'date', 'data-testid': cid } });
      input.addEventListener('change', now);
    } else if (f.kind === 'amount') {
      input = h('input', { class: 'amount', attrs: { id: cid, type: 'text', inputmode: 'decimal', autocomplete: 'off', maxlength: '16', 'data-testid': cid } });
      input.addEventListener('input', soon);
    } else {
      input = h('input', { attrs: { id: cid, type: 'search', maxlength: '64', autocomplete: 'off', 'data-testid': cid, placeholder: f.placeholder || null } });
      input.addEventListener('input', soon);
    }
    const label = h('label', { text: f.label, attrs: { for: cid } });
    const wrap = f.kind === 'check' ? h('span', { class: 'field inline' }, input, label) : h('span', { class: 'field inline' }, label, input);
    return { f, input, wrap };
  }

  function params() {
    const q = new URLSearchParams();
    for (const { f, input } of controls) {
      const v = input.value.trim();
      if (f.kind === 'check') {
        if (input.checked) q.set(f.name, 'true');
      } else if (f.kind === 'amount') {
        const bad = v !== '' && !(fen(v) >= 0);
        if (bad) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
        if (v !== '' && !bad) q.set(f.name, String(fen(v)));
      } else if (v !== '') {
        q.set(f.name, (f.prefix || '') + v);
      }
    }
    return q;
  }

  function restore(q) {
    for (const { f, input } of controls) {
      const v = q.get(f.name);
      if (v === null) continue;
      if (f.kind === 'check') input.checked = v === 'true';
      else if (f.kind === 'amount') input.value = /^\d{1,15}$/.test(v) ? (Number(v) / 100).toFixed(2) : '';
      else input.value = f.prefix && v.startsWith(f.prefix) ? v.slice(f.prefix.length) : v;
    }
  }
}

// pagedList is a list the node filters and pages, one page loaded at a
// time (GET path?filters&pageSize&pageToken: a village with many entries
// costs a page), the earlier pages' tokens kept to go back, an answer
// older than the latest call dropped. o: t, api; id (test ids: id-rows,
// id-prev, id-next, id-status); path; field (the answer's list); colspan;
// row(rec) (its table row); params() (the filters); fixed (parameters
// every call sends, not filters: the org); empty(filters) (the text when
// nothing matches, default list.empty); route, when given, keeps the
// filters in the address (#/route?filters, no new history entry), so
// that a reload or a link opens the list as it was filtered. It returns
// tbody, pager, load(), restart() (from the first page) and stop(); load
// and restart resolve once the page is drawn (or dropped for a later
// call), so that a caller says an action's outcome after the redraw.
export function pagedList(o) {
  const { t, api, id } = o;
  const state = { tokens: [''], page: 0, seq: 0, alive: true };
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': id + '-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': id + '-rows' } });
  const prev = h('button', { text: t('list.prev'), attrs: { type: 'button', 'data-testid': id + '-prev' } });
  const next = h('button', { text: t('list.next'), attrs: { type: 'button', 'data-testid': id + '-next' } });
  prev.addEventListener('click', () => { if (state.page > 0) { state.page--; load(); } });
  next.addEventListener('click', () => { state.page++; load(); });
  return { tbody, pager: h('div', { class: 'pager' }, prev, status, next), load, restart, stop: () => { state.alive = false; } };

  function restart() {
    state.tokens = [''];
    state.page = 0;
    return load();
  }

  async function load() {
    if (!state.alive) return;
    const mine = ++state.seq;
    const filters = o.params();
    // The filters go into the URL only while this list's page is the one
    // shown: a list of a page left behind must not send the next reload
    // (or a language switch, which draws the route again) back to it.
    const shown = location.hash.replace(/^#\/?/, '').split('?')[0];
    if (o.route && shown === o.route) history.replaceState(null, '', '#/' + o.route + (filters.toString() ? '?' + filters.toString() : ''));
    const q = new URLSearchParams(filters);
    for (const [k, v] of Object.entries(o.fixed || {})) q.set(k, v);
    q.set('pageSize', String(pageSize));
    const token = state.tokens[state.page] || '';
    if (token) q.set('pageToken', token);
    status.textContent = t('list.loading');
    prev.disabled = next.disabled = true;
    let answer;
    try {
      answer = await api('GET', o.path + '?' + q.toString());
    } catch (err) {
      if (!state.alive || mine !== state.seq) return;
      fill(tbody);
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!state.alive || mine !== state.seq) return;
    const recs = answer[o.field] || [];
    state.tokens[state.page + 1] = answer.nextPageToken || '';
    fill(tbody, recs.map(o.row));
    if (!recs.length) {
      fill(tbody, h('tr', {}, h('td', { text: o.empty ? o.empty(filters) : t('list.empty'), attrs: { colspan: o.colspan, 'data-testid': id + '-empty' } })));
    }
    status.textContent = t('list.page', { page: state.page + 1, total: Number(answer.totalSize || 0) });
    prev.disabled = state.page === 0;
    next.disabled = !answer.nextPageToken;
  }
}
