// The district analyst's cockpit (issue 14), sized for a 1920×1080 wall
// display: headline figures, the monthly trend, alerts and cards by org,
// the efficiency ranking, the integrity-risk ranking with its signals, the
// first-digit chart per village, near-threshold and concentration
// anomalies, all from the member's /v1/stats/* routes. It refreshes itself:
// GET /v1/stats/stream sends the statistics' version (server-sent events);
// a new version fetches the figures again, no reload. Drill-down: a town
// shows its villages (scope.parent), a village the entries of its chain at
// the district. Every table exports CSV and XLSX from the rows shown. Charts use
// ECharts (/app/vendor/echarts.min.js, loaded by a script element); without
// it the tables still show.
import { h, fill, clear } from '../dom.js';
import { query } from '../api.js';
import { exportButtons } from '../export.js';

// csvCell and csv moved to ../export.js with the XLSX export; re-exported
// for callers of this module.
export { csvCell, csv } from '../export.js';

const yuan = (f) => (Number(f || 0) / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (x) => (Number(x || 0) * 100).toFixed(1) + '%';
const num = (x) => String(Number(x || 0));
const dec = (x, d = 1) => Number(x || 0).toFixed(d);
const benford = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => Math.log10(1 + 1 / d));

function thisMonth(now = new Date()) {
  return now.getFullYear() * 100 + now.getMonth() + 1;
}

// startOfToday is midnight on this display's calendar, as the instant the
// member counts "entries today" from.
function startOfToday(now = new Date()) {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate()).toISOString();
}

// loadECharts adds the script element once; resolves to window.echarts or
// null when it is not there (before make setup).
let echartsPromise = null;
function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!echartsPromise) {
    echartsPromise = new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = '/app/vendor/echarts.min.js';
      s.addEventListener('load', () => resolve(window.echarts || null));
      s.addEventListener('error', () => resolve(null));
      document.head.append(s);
    });
  }
  return echartsPromise;
}

// The org levels: a town's 12-digit code is the first 9 digits of its
// villages' codes and 000 (the statistics take a 12-digit parent for the
// orgs under it).
const townPrefix = (code) => String(code).slice(0, 9) + '000';

export function render(root, { me, t, api }) {
  const state = { parent: '', level: 'town', village: '', version: '', loading: false, again: false };
  let alive = true;
  let charts = [];
  let source = null;
  let echarts = null;

  const crumbs = h('nav', { class: 'crumbs', attrs: { 'aria-label': t('cockpit.crumbs'), 'data-testid': 'cockpit-crumbs' } });
  const live = h('p', { class: 'status live', attrs: { role: 'status', 'data-testid': 'cockpit-live' } });
  const body = h('div', { class: 'cockpit', attrs: { 'data-testid': 'cockpit' } });
  fill(root, h('div', { class: 'cockpit-head' }, h('h1', { text: t('cockpit.title') }), crumbs, live), body);

  loadECharts().then((e) => { echarts = e; if (alive && e) refresh(); });
  connect();
  refresh();

  function connect() {
    if (!window.EventSource) {
      live.textContent = t('cockpit.noStream');
      return;
    }
    source = new EventSource('/v1/stats/stream');
    source.addEventListener('version', (ev) => {
      let v = '';
      try { v = JSON.parse(ev.data).version; } catch { return; }
      if (v !== state.version) {
        state.version = v;
        refresh();
      }
    });
    source.addEventListener('error', () => { if (alive) live.textContent = t('cockpit.reconnecting'); });
  }

  function go(parent, level, village = '') {
    state.parent = parent;
    state.level = level;
    state.village = village;
    refresh();
  }

  function renderCrumbs() {
    const items = [h('button', { class: 'link', text: t('cockpit.district'), attrs: { type: 'button', 'data-testid': 'crumb-district' }, on: { click: () => go('', 'town') } })];
    if (state.parent) {
      items.push(' › ', h('button', { class: 'link', text: t('cockpit.town', { code: state.parent }), attrs: { type: 'button' }, on: { click: () => go(state.parent, 'village') } }));
    }
    if (state.village) items.push(' › ', h('span', { text: t('cockpit.village', { code: state.village }) }));
    fill(crumbs, items);
  }

  // refresh fetches every figure of the current view; a refresh asked for
  // while one runs runs once more after it.
  async function refresh() {
    if (!alive) return;
    if (state.loading) { state.again = true; return; }
    state.loading = true;
    try {
      renderCrumbs();
      if (state.village) await renderVillage();
      else await renderStats();
      live.textContent = t('cockpit.updated', { time: new Date().toLocaleTimeString(), version: state.version || '-' });
      live.dataset.version = state.version;
    } catch (err) {
      live.textContent = t('cockpit.failed', { reason: err.reason || err.message });
    } finally {
      state.loading = false;
      if (state.again && alive) { state.again = false; refresh(); }
    }
  }

  function disposeCharts() {
    for (const c of charts) c.dispose();
    charts = [];
  }

  async function renderStats() {
    const scope = { 'scope.parent': state.parent };
    const month = thisMonth();
    const [totals, status, cardsNow, byOrg, eff, effPost, risk, anomalies] = await Promise.all([
      api('GET', '/v1/stats/totals' + query({ ...scope, 'scope.level': 'district', entriesSince: startOfToday() })),
      api('GET', '/v1/stats/alerts' + query({ ...scope, groupBy: 'status' })),
      api('GET', '/v1/stats/alerts' + query({ ...scope, 'scope.level': 'district', 'scope.fromMonth': month, 'scope.toMonth': month, groupBy: 'org' })),
      api('GET', '/v1/stats/alerts' + query({ ...scope, 'scope.level': state.level, groupBy: 'org' })),
      api('GET', '/v1/stats/efficiency' + query({ ...scope, 'scope.level': state.level, groupBy: 'org' })),
      api('GET', '/v1/stats/efficiency' + query({ ...scope, groupBy: 'post' })),
      api('GET', '/v1/stats/risk' + query({ ...scope, 'scope.level': 'village' })),
      api('GET', '/v1/stats/anomalies' + query({ ...scope, 'scope.level': 'village' })),
    ]);
    if (!alive) return;
    disposeCharts();
    const months = new Map();
    for (const r of totals.rows || []) {
      const m = months.get(r.month) || { month: r.month, income: 0, expense: 0, tx: 0 };
      m.income += Number(r.incomeFen || 0);
      m.expense += Number(r.expenseFen || 0);
      m.tx += Number(r.transactions || 0);
      months.set(r.month, m);
    }
    const trend = [...months.values()].sort((a, b) => a.month - b.month);
    const now = months.get(month) || { income: 0, expense: 0, tx: 0 };
    const open = { red: 0, yellow: 0 };
    for (const r of status.rows || []) {
      if (r.key === 'ALERT_STATUS_OPEN' || r.key === 'ALERT_STATUS_ACKNOWLEDGED') {
        open.red += Number(r.red || 0);
        open.yellow += Number(r.yellow || 0);
      }
    }
    const cards = { red: 0, yellow: 0 };
    for (const r of cardsNow.rows || []) {
      cards.red += Number(r.redCards || 0);
      cards.yellow += Number(r.yellowCards || 0);
    }
    const figure = (id, label, value, cls = '') => h('div', { class: 'figure ' + cls, attrs: { 'data-testid': 'fig-' + id } },
      h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }));
    const headline = h('section', { class: 'figures', attrs: { 'aria-label': t('cockpit.figures') } },
      figure('income', t('cockpit.fig.income', { month }), yuan(now.income)),
      figure('expense', t('cockpit.fig.expense', { month }), yuan(now.expense)),
      figure('tx', t('cockpit.fig.tx', { month }), num(now.tx)),
      figure('today', t('cockpit.fig.today'), num(totals.entriesSinceCount)),
      figure('open-red', t('cockpit.fig.openRed'), num(open.red), 'red'),
      figure('open-yellow', t('cockpit.fig.openYellow'), num(open.yellow), 'yellow'),
      figure('cards', t('cockpit.fig.cards', { month }), t('cockpit.fig.cardsValue', { red: cards.red, yellow: cards.yellow })));

    const drill = state.level === 'town'
      ? (code) => go(townPrefix(code), 'village')
      : (code) => go(state.parent, 'village', code);
    const orgCol = { label: t('cockpit.col.org'), get: (r) => r.key, link: drill };
    const nameCol = { label: t('cockpit.col.name'), get: (r) => r.name };

    const trendPanel = panel('trend', t('cockpit.trend'), [
      { label: t('cockpit.col.month'), get: (r) => r.month },
      { label: t('cockpit.col.income'), get: (r) => yuan(r.income), num: true },
      { label: t('cockpit.col.expense'), get: (r) => yuan(r.expense), num: true },
      { label: t('cockpit.col.tx'), get: (r) => r.tx, num: true },
    ], trend, (el) => ({
      tooltip: { trigger: 'axis' }, legend: { data: [t('cockpit.col.income'), t('cockpit.col.expense')] },
      xAxis: { type: 'category', data: trend.map((r) => String(r.month)) }, yAxis: { type: 'value' },
      series: [
        { name: t('cockpit.col.income'), type: 'line', data: trend.map((r) => r.income / 100) },
        { name: t('cockpit.col.expense'), type: 'line', data: trend.map((r) => r.expense / 100) },
      ],
    }));
    const orgRows = (byOrg.rows || []).slice().sort((a, b) => String(a.key).localeCompare(String(b.key)));
    const alertsPanel = panel('alerts', t(state.level === 'town' ? 'cockpit.alertsByTown' : 'cockpit.alertsByVillage'), [
      orgCol, nameCol,
      { label: t('cockpit.col.alerts'), get: (r) => num(r.alerts), num: true },
      { label: t('cockpit.col.red'), get: (r) => num(r.red), num: true },
      { label: t('cockpit.col.yellow'), get: (r) => num(r.yellow), num: true },
      { label: t('cockpit.col.redCards'), get: (r) => num(r.redCards), num: true },
      { label: t('cockpit.col.yellowCards'), get: (r) => num(r.yellowCards), num: true },
    ], orgRows, () => ({
      tooltip: { trigger: 'axis' }, legend: {},
      xAxis: { type: 'category', data: orgRows.map((r) => r.name || r.key) }, yAxis: { type: 'value' },
      series: [
        { name: t('cockpit.col.red'), type: 'bar', stack: 'a', color: '#a40e26', data: orgRows.map((r) => Number(r.red || 0)) },
        { name: t('cockpit.col.yellow'), type: 'bar', stack: 'a', color: '#bf8700', data: orgRows.map((r) => Number(r.yellow || 0)) },
        { name: t('cockpit.col.redCards'), type: 'bar', stack: 'c', color: '#6e1020', data: orgRows.map((r) => Number(r.redCards || 0)) },
        { name: t('cockpit.col.yellowCards'), type: 'bar', stack: 'c', color: '#7d5a00', data: orgRows.map((r) => Number(r.yellowCards || 0)) },
      ],
    }), (code) => drill(code));
    const effCols = (keyCol) => [
      { label: t('cockpit.col.rank'), get: (r) => r.rank, num: true }, keyCol, nameCol,
      { label: t('cockpit.col.score'), get: (r) => dec(r.score), num: true },
      { label: t('cockpit.col.steps'), get: (r) => num(r.steps), num: true },
      { label: t('cockpit.col.onTime'), get: (r) => pct(r.onTimeRate), num: true },
      { label: t('cockpit.col.early'), get: (r) => pct(r.earlyRate), num: true },
      { label: t('cockpit.col.avgHours'), get: (r) => dec(r.avgHours), num: true },
    ];
    const effPanel = panel('efficiency', t('cockpit.efficiency'), effCols(orgCol), eff.rows || []);
    const effPostPanel = panel('efficiency-post', t('cockpit.efficiencyPost'),
      effCols({ label: t('cockpit.col.post'), get: (r) => r.key }).filter((c) => c.label !== t('cockpit.col.name')), effPost.rows || []);
    const riskPanel = panel('risk', t('cockpit.risk'), [
      { label: t('cockpit.col.org'), get: (r) => r.org, link: (code) => go(state.parent || townPrefix(code), 'village', code) },
      { label: t('cockpit.col.name'), get: (r) => r.name },
      { label: t('cockpit.col.score'), get: (r) => dec(r.score), num: true },
      { label: t('cockpit.col.level'), get: (r) => t('cockpit.level.' + (r.level || 'green')), cls: (r) => 'risk-' + (r.level || 'green') },
      { label: t('cockpit.col.redAlerts'), get: (r) => num(r.redAlerts), num: true },
      { label: t('cockpit.col.yellowAlerts'), get: (r) => num(r.yellowAlerts), num: true },
      { label: t('cockpit.col.unreviewed'), get: (r) => num(r.unreviewedAlerts), num: true },
      { label: t('cockpit.col.redCards'), get: (r) => num(r.redCards), num: true },
      { label: t('cockpit.col.yellowCards'), get: (r) => num(r.yellowCards), num: true },
      { label: t('cockpit.col.serious'), get: (r) => num(r.splitRelated), num: true },
      { label: t('cockpit.col.tamper'), get: (r) => num(r.tamperFindings), num: true },
      { label: t('cockpit.col.late'), get: (r) => num(r.lateDisclosures), num: true },
      { label: t('cockpit.col.lateSteps'), get: (r) => num(r.lateSteps), num: true },
      { label: t('cockpit.col.cash'), get: (r) => pct(r.cashShare), num: true },
    ], risk.rows || []);
    const anomalyRows = anomalies.rows || [];
    const anomalyPanel = panel('anomalies', t('cockpit.anomalies'), [
      { label: t('cockpit.col.org'), get: (r) => r.org, link: (code) => go(state.parent || townPrefix(code), 'village', code) },
      { label: t('cockpit.col.name'), get: (r) => r.name },
      { label: t('cockpit.col.expenses'), get: (r) => num(r.expenses), num: true },
      { label: t('cockpit.col.justUnder'), get: (r) => pct(r.justUnderShare), num: true },
      { label: t('cockpit.col.round'), get: (r) => pct(r.roundShare), num: true },
      { label: t('cockpit.col.hhi'), get: (r) => dec(r.counterpartyHhi, 0), num: true },
      { label: t('cockpit.col.mad'), get: (r) => dec(r.benfordMad, 4), num: true },
      { label: t('cockpit.col.verdict'), get: (r) => r.benfordVerdict },
    ], anomalyRows);
    fill(body, headline, h('div', { class: 'cockpit-grid' },
      trendPanel, alertsPanel, riskPanel, benfordPanel(anomalyRows), anomalyPanel, effPanel, effPostPanel));
  }

  // benfordPanel is the first-digit chart of one village (chosen in a
  // select) against Benford's law, with its counts as a table.
  function benfordPanel(rows) {
    const select = h('select', { attrs: { id: 'cockpit-benford-village', 'data-testid': 'benford-village' } },
      rows.map((r) => h('option', { text: (r.name ? r.name + ' ' : '') + r.org, attrs: { value: r.org } })));
    const holder = h('div');
    const show = () => {
      const r = rows.find((x) => x.org === select.value);
      const counts = (r && r.firstDigits) || [];
      const total = counts.reduce((a, b) => a + Number(b || 0), 0);
      const data = benford.map((p, i) => ({ digit: i + 1, n: Number(counts[i] || 0), share: total ? Number(counts[i] || 0) / total : 0, expected: p }));
      fill(holder, panel('benford-table', '', [
        { label: t('cockpit.col.digit'), get: (d) => d.digit, num: true },
        { label: t('cockpit.col.count'), get: (d) => d.n, num: true },
        { label: t('cockpit.col.share'), get: (d) => pct(d.share), num: true },
        { label: t('cockpit.col.expected'), get: (d) => pct(d.expected), num: true },
      ], data, () => ({
        tooltip: { trigger: 'axis' }, legend: {},
        xAxis: { type: 'category', data: data.map((d) => String(d.digit)) }, yAxis: { type: 'value' },
        series: [
          { name: t('cockpit.col.share'), type: 'bar', data: data.map((d) => +(d.share * 100).toFixed(2)) },
          { name: t('cockpit.col.expected'), type: 'line', data: data.map((d) => +(d.expected * 100).toFixed(2)) },
        ],
      }), null, true));
    };
    select.addEventListener('change', show);
    show();
    return h('section', { class: 'panel', attrs: { 'data-testid': 'panel-benford', 'aria-labelledby': 'cockpit-benford-title' } },
      h('h2', { text: t('cockpit.benford'), attrs: { id: 'cockpit-benford-title' } }),
      h('div', { class: 'field inline' }, h('label', { text: t('cockpit.benfordVillage'), attrs: { for: 'cockpit-benford-village' } }), select),
      holder);
  }

  // panel is a titled table (with its CSV export) and, when chart gives an
  // ECharts option and ECharts is loaded, a chart above it; onBar drills
  // from a bar.
  function panel(id, title, cols, rows, chart, onBar, bare) {
    const tbody = h('tbody', { attrs: { 'data-testid': id + '-rows' } }, rows.map((r) => h('tr', { attrs: { 'data-key': cols[0].get(r) } },
      cols.map((c) => {
        const v = c.get(r);
        const cell = h('td', { class: (c.num ? 'num ' : '') + (c.cls ? c.cls(r) : '') });
        if (c.link && v) cell.append(h('button', { class: 'link', text: v, attrs: { type: 'button', 'data-drill': v }, on: { click: () => c.link(v) } }));
        else cell.textContent = v === undefined || v === null ? '' : String(v);
        return cell;
      }))));
    if (!rows.length) tbody.append(h('tr', {}, h('td', { text: t('cockpit.none'), attrs: { colspan: cols.length } })));
    const exportBtn = exportButtons(t, id, id, () => ({ header: cols.map((c) => c.label), rows: rows.map((r) => cols.map((c) => c.get(r))) }));
    const chartEl = chart && echarts ? h('div', { class: 'chart', attrs: { 'data-testid': id + '-chart', role: 'img', 'aria-label': title || t('cockpit.benford') } }) : null;
    const parts = [
      h('div', { class: 'panel-head' }, title ? h('h2', { text: title, attrs: { id: 'cockpit-' + id + '-title' } }) : null, exportBtn),
      chartEl,
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': title || t('cockpit.benford') } }, h('table', { class: 'list' },
        h('caption', { class: 'sr-only', text: title || t('cockpit.benford') }),
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: c.label, attrs: { scope: 'col' } })))), tbody)),
    ];
    const el = h(bare ? 'div' : 'section', { class: bare ? '' : 'panel', attrs: { 'data-testid': 'panel-' + id } }, parts);
    if (chartEl) {
      requestAnimationFrame(() => {
        if (!alive || !chartEl.isConnected) return;
        const c = echarts.init(chartEl);
        const opt = chart();
        c.setOption({ animation: false, ...opt, grid: { left: 60, right: 20, top: 36, bottom: 30 }, legend: { ...(opt.legend || {}), top: 0 } });
        if (onBar) c.on('click', (p) => { const r = rows[p.dataIndex]; if (r) onBar(r.key); });
        charts.push(c);
      });
    }
    return el;
  }

  // renderVillage shows a village's chain as the district holds it: its
  // head, and, for an account that may verify chains (an auditor: the
  // entries' bytes are not masked), its newest 100 entries.
  async function renderVillage() {
    const org = state.village;
    const head = await api('GET', '/v1/district/origins/' + encodeURIComponent(org) + '/head');
    const seq = Number((head.head && head.head.seq) || 0);
    let list;
    if ((me.permissions || []).includes('verify')) {
      const page = await api('GET', '/v1/district/origins/' + encodeURIComponent(org) + '/entries' + query({ fromSeq: Math.max(1, seq - 99), limit: 100 }));
      list = panel('entries', t('cockpit.entries', { org }), [
        { label: t('cockpit.col.seq'), get: (r) => r.seq, num: true },
        { label: t('cockpit.col.recorded'), get: (r) => r.recorded },
        { label: t('cockpit.col.type'), get: (r) => r.type },
        { label: t('cockpit.col.author'), get: (r) => r.author },
        { label: t('cockpit.col.subject'), get: (r) => r.subject },
        { label: t('cockpit.col.hash'), get: (r) => r.hash },
      ], (page.entries || []).map(decodeEntry).reverse());
    } else {
      list = h('p', { class: 'note', text: t('cockpit.entriesNeedVerify'), attrs: { 'data-testid': 'entries-need-verify' } });
    }
    if (!alive) return;
    disposeCharts();
    fill(body, h('div', { class: 'cockpit-grid one' },
      h('section', { class: 'panel', attrs: { 'data-testid': 'panel-head', 'aria-labelledby': 'cockpit-head-title' } },
        h('h2', { text: t('cockpit.chainHead', { org }), attrs: { id: 'cockpit-head-title' } }),
        h('p', { attrs: { 'data-testid': 'village-head' } }, t('cockpit.headSeq', { seq }), ' ',
          h('span', { class: 'mono', text: (head.head && head.head.hash) || '' }))),
      list));
  }

  return () => {
    alive = false;
    if (source) source.close();
    disposeCharts();
    clear(body);
  };
}

// decodeEntry reads the fields of an entry's body (EntryBody, protobuf) the
// list shows: seq, recorded_at, author, type, subject; and its hash in hex.
export function decodeEntry(e) {
  const bytes = b64(e.body || '');
  const out = { seq: 0, recorded: '', author: '', type: '', subject: '', hash: hex(b64(e.hash || '')).slice(0, 16) };
  let i = 0;
  const varint = () => {
    let v = 0, mul = 1, b;
    do { b = bytes[i++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80 && i < bytes.length);
    return v;
  };
  const text = (b) => new TextDecoder().decode(b);
  while (i < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 2) out.seq = v;
      if (field === 6) out.type = entryTypes[v] || String(v);
    } else if (wire === 2) {
      const n = varint();
      const b = bytes.subarray(i, i + n);
      i += n;
      if (field === 5) out.author = text(b);
      if (field === 8) out.subject = text(b);
      if (field === 4) {
        let secs = 0, j = 0;
        while (j < b.length) {
          const k = b[j++];
          let v = 0, mul = 1, c;
          do { c = b[j++]; v += (c & 0x7f) * mul; mul *= 128; } while (c & 0x80 && j < b.length);
          if (k === 8) secs = v;
        }
        out.recorded = new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 19);
      }
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else break;
  }
  return out;
}

const entryTypes = {
  1: 'TRANSACTION', 2: 'CONTRACT', 3: 'CONTRACT_PAYMENT', 4: 'ASSET_REGISTRATION', 5: 'ASSET_APPRAISAL', 6: 'ASSET_DISPOSAL',
  7: 'REVERSAL', 8: 'CATALOG_VERSION', 9: 'ALERT', 10: 'ALERT_TRANSITION', 11: 'PROCEDURE', 12: 'STEP_DECISION', 13: 'CARD',
  14: 'RULE_SET', 15: 'NOTIFICATION', 16: 'DIRECTIVE', 17: 'DIRECTIVE_REPORT', 18: 'TOWN_DECISION', 19: 'TOWN_DECISION_REFUSED',
  30: 'KEY_ROTATION', 31: 'KEY_REVOCATION', 40: 'ACCOUNT_CREATED', 41: 'ACCOUNT_GRANTED', 42: 'ACCOUNT_REVOKED',
  43: 'ACCOUNT_DISABLED', 44: 'ACCOUNT_PASSWORD_RESET',
};

function b64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
