// The district rules officer's page (issue 14): the rule sets of the
// district's chain (GET /v1/rules), the difference between two versions
// rule by rule (computed here from GET /v1/rules/{version}), a draft made
// from a form of each rule's parameters or from JSON (POST /v1/rules), and
// the publication of a draft (POST /v1/rules/{version}/publish), which the
// district takes only from an officer who did not draft it: its refusal is
// shown with the district's reason. A version, or the JSON being drafted,
// is backtested over the district's data (rules-backtest.js).
import { h, fill, clear } from '../dom.js';
import { backtestPanel } from './rules-backtest.js';

// diffRules compares two rule sets rule by rule (by code): rules added,
// removed, and each field that differs (params one by one).
export function diffRules(a, b) {
  const out = [];
  const byCode = (rs) => new Map(((rs && rs.rules) || []).map((r) => [r.code, r]));
  const A = byCode(a), B = byCode(b);
  const codes = [...new Set([...A.keys(), ...B.keys()])].sort();
  const show = (v) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  for (const code of codes) {
    const x = A.get(code), y = B.get(code);
    if (!x) { out.push({ code, change: 'added', field: '', a: '', b: y.name || '' }); continue; }
    if (!y) { out.push({ code, change: 'removed', field: '', a: x.name || '', b: '' }); continue; }
    const fields = [...new Set([...Object.keys(x), ...Object.keys(y)])].filter((f) => f !== 'code' && f !== 'params').sort();
    for (const f of fields) {
      if (show(x[f]) !== show(y[f])) out.push({ code, change: 'changed', field: f, a: show(x[f]), b: show(y[f]) });
    }
    const px = x.params || {}, py = y.params || {};
    for (const p of [...new Set([...Object.keys(px), ...Object.keys(py)])].sort()) {
      if (show(px[p]) !== show(py[p])) out.push({ code, change: 'changed', field: 'params.' + p, a: show(px[p]), b: show(py[p]) });
    }
  }
  return out;
}

export function render(root, { me, t, api }) {
  const perms = new Set(me.permissions || []);
  let alive = true;
  let sets = [];
  const cache = new Map();

  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'rules-status' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'rules-outcome' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'rules-rows' } });
  const listTable = h('table', { class: 'list' },
    h('caption', { class: 'sr-only', text: t('rules.list') }),
    h('thead', {}, h('tr', {}, ['rules.col.version', 'rules.col.status', 'rules.col.draftedBy', 'rules.col.publishedBy', 'rules.col.sha', 'rules.col.act']
      .map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
    tbody);

  // Diff.
  const selA = h('select', { attrs: { id: 'rules-diff-a', 'data-testid': 'rules-diff-a' } });
  const selB = h('select', { attrs: { id: 'rules-diff-b', 'data-testid': 'rules-diff-b' } });
  const diffOut = h('div', { attrs: { 'data-testid': 'rules-diff' } });
  const diffBtn = h('button', { text: t('rules.compare'), attrs: { type: 'button', 'data-testid': 'rules-compare' }, on: { click: compare } });

  // Draft.
  const base = h('select', { attrs: { id: 'rules-base', 'data-testid': 'rules-base' } });
  const version = h('input', { attrs: { id: 'rules-version', 'data-testid': 'rules-version', autocomplete: 'off', maxlength: '64' } });
  const ruleForm = h('div', { class: 'rule-params', attrs: { 'data-testid': 'rules-params' } });
  const json = h('textarea', { attrs: { id: 'rules-json', 'data-testid': 'rules-json', rows: '8', spellcheck: 'false' } });
  let baseSet = { rules: [] };
  // loaded is the version the form and the JSON box were last drawn from
  // (null before the first), shown the JSON written into the box then: a
  // box that holds anything else is the officer's own JSON, drafted or
  // being typed, which a reload of the list keeps (issue 14: with no live
  // set the base stays the empty one and the reload used to redraw it).
  let loaded = null, shown = '';
  base.addEventListener('change', () => loadBase(base.value, { replace: true }));
  const backtest = backtestPanel({ t, api, draftJSON: perms.has('draft_rules') ? () => json.value : null });

  fill(root,
    h('h1', { text: t('rules.title') }),
    status, outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'rules-list-title' } },
      h('h2', { text: t('rules.list'), attrs: { id: 'rules-list-title' } }),
      h('div', { class: 'table-wrap' }, listTable)),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'rules-diff-title' } },
      h('h2', { text: t('rules.diff'), attrs: { id: 'rules-diff-title' } }),
      h('div', { class: 'toolbar' },
        h('label', { text: t('rules.diffA'), attrs: { for: 'rules-diff-a' } }), selA,
        h('label', { text: t('rules.diffB'), attrs: { for: 'rules-diff-b' } }), selB, diffBtn),
      diffOut),
    backtest.el,
    perms.has('draft_rules') ? h('section', { class: 'panel', attrs: { 'aria-labelledby': 'rules-draft-title' } },
      h('h2', { text: t('rules.draft'), attrs: { id: 'rules-draft-title' } }),
      h('div', { class: 'toolbar' },
        h('label', { text: t('rules.base'), attrs: { for: 'rules-base' } }), base,
        h('label', { text: t('rules.version'), attrs: { for: 'rules-version' } }), version),
      ruleForm,
      h('button', { class: 'primary', text: t('rules.submitForm'), attrs: { type: 'button', 'data-testid': 'rules-submit-form' }, on: { click: () => submit(fromForm()) } }),
      h('div', { class: 'field' }, h('label', { text: t('rules.json'), attrs: { for: 'rules-json' } }), json),
      h('button', { text: t('rules.submitJSON'), attrs: { type: 'button', 'data-testid': 'rules-submit-json' }, on: { click: () => submit(json.value) } }),
    ) : null);

  load();

  // load draws the list again. toLive (after a publication) takes the set
  // now live as the base and drops the officer's JSON for it.
  async function load({ toLive = false } = {}) {
    try {
      const resp = await api('GET', '/v1/rules');
      if (!alive) return;
      sets = resp.ruleSets || [];
      status.textContent = t('rules.count', { n: sets.length, live: resp.live || t('rules.noLive') });
      backtest.setVersions(sets, resp.live);
      fill(tbody, sets.slice().reverse().map((s) => h('tr', { attrs: { 'data-version': s.version } },
        h('td', { class: 'mono', text: s.version }),
        h('td', { text: t('rules.status.' + s.status), attrs: { 'data-testid': 'rules-status-' + s.version } }),
        h('td', { text: s.draftedBy }),
        h('td', { text: s.publishedBy }),
        h('td', { class: 'mono', text: (s.sha256 || '').slice(0, 12) }),
        h('td', {}, s.status === 'draft' && perms.has('publish_rules')
          ? h('button', { text: t('rules.publish'), attrs: { type: 'button', 'data-publish': s.version }, on: { click: () => publish(s.version) } })
          : null))));
      if (!sets.length) tbody.append(h('tr', {}, h('td', { text: t('rules.none'), attrs: { colspan: 6 } })));
      const opts = (sel, pick) => {
        const keep = sel.value;
        fill(sel, sets.map((s) => h('option', { text: s.version, attrs: { value: s.version } })));
        sel.value = keep && sets.some((s) => s.version === keep) ? keep : pick;
      };
      opts(selA, sets.length > 1 ? sets[sets.length - 2].version : (sets[0] || {}).version);
      opts(selB, (sets[sets.length - 1] || {}).version);
      const keep = base.value;
      fill(base, h('option', { text: t('rules.empty'), attrs: { value: '' } }), sets.map((s) => h('option', { text: s.version, attrs: { value: s.version } })));
      base.value = !toLive && keep && sets.some((s) => s.version === keep) ? keep : (resp.live || '');
      if (toLive || loaded === null || base.value !== loaded) await loadBase(base.value, { replace: toLive });
    } catch (err) {
      status.textContent = t('rules.failed', { reason: err.reason || err.message });
    }
  }

  async function get(v) {
    if (!cache.has(v)) {
      const r = await api('GET', '/v1/rules/' + encodeURIComponent(v));
      cache.set(v, JSON.parse(r.rulesJson || '{}'));
    }
    return cache.get(v);
  }

  // loadBase draws the form from version v (the empty set for '') and
  // writes it into the JSON box, unless the box holds the officer's own
  // JSON and replace is not asked (the officer picked a base, or a set
  // was published).
  async function loadBase(v, { replace = false } = {}) {
    try {
      baseSet = v ? structuredClone(await get(v)) : { version: '', rules: [] };
    } catch (err) {
      box('refused', t('rules.failed', { reason: err.reason || err.message }));
      return;
    }
    if (!alive) return;
    loaded = v;
    const own = json.value.trim() !== '' && json.value !== shown;
    if (replace || !own) {
      shown = JSON.stringify(baseSet, null, 2);
      json.value = shown;
    }
    clear(ruleForm);
    (baseSet.rules || []).forEach((r, i) => {
      const params = Object.entries(r.params || {});
      ruleForm.append(h('fieldset', { class: 'rule' },
        h('legend', { text: r.code + (r.name ? ' — ' + r.name : '') }),
        h('div', { class: 'field inline' },
          h('label', { text: t('rules.severity'), attrs: { for: `rules-${i}-severity` } }),
          h('select', { attrs: { id: `rules-${i}-severity`, 'data-rule': r.code, 'data-field': 'severity' } },
            ['info', 'yellow', 'red'].map((s) => h('option', { text: t('sev.' + s), attrs: { value: s, selected: r.severity === s } })))),
        params.map(([k, v]) => h('div', { class: 'field inline' },
          h('label', { text: k, attrs: { for: `rules-${i}-p-${k}` } }),
          h('input', { attrs: { id: `rules-${i}-p-${k}`, type: 'number', step: '1', value: String(v), 'data-rule': r.code, 'data-param': k } })))));
    });
    if (!(baseSet.rules || []).length) ruleForm.append(h('p', { text: t('rules.noRules') }));
  }

  // fromForm is the base rule set with the form's version and values.
  function fromForm() {
    const out = structuredClone(baseSet);
    out.version = version.value.trim();
    for (const r of out.rules || []) {
      for (const el of ruleForm.querySelectorAll('[data-rule]')) {
        if (el.dataset.rule !== r.code) continue;
        if (el.dataset.field === 'severity') r.severity = el.value;
        if (el.dataset.param) r.params[el.dataset.param] = Number(el.value);
      }
    }
    return JSON.stringify(out);
  }

  function box(kind, text, testid) {
    fill(outcome, h('div', { class: 'box ' + kind, attrs: { 'data-testid': testid || 'rules-' + kind } }, h('p', { text })));
  }

  async function submit(rulesJson) {
    try {
      JSON.parse(rulesJson);
    } catch (e) {
      box('refused', t('rules.badJSON', { reason: e.message }));
      return;
    }
    try {
      const r = await api('POST', '/v1/rules', { rulesJson }, { quiet: true });
      // The page is drawn again first and the outcome said after: what
      // the message speaks of is on the page when it appears.
      await load();
      if (!alive) return;
      box('recorded', t('rules.drafted', { version: r.summary.version, id: r.entry.id }), 'rules-drafted');
    } catch (err) {
      box('refused', t('rules.refused', { reason: err.reason || err.message }));
    }
  }

  async function publish(v) {
    try {
      const r = await api('POST', '/v1/rules/' + encodeURIComponent(v) + '/publish', { version: v }, { quiet: true });
      await load({ toLive: true });
      if (!alive) return;
      box('recorded', t('rules.published', { version: v, id: r.entry.id }), 'rules-published');
    } catch (err) {
      box('refused', t('rules.refused', { reason: err.reason || err.message }));
    }
  }

  async function compare() {
    try {
      const [a, b] = await Promise.all([get(selA.value), get(selB.value)]);
      const rows = diffRules(a, b);
      fill(diffOut, rows.length ? h('table', { class: 'list' },
        h('caption', { class: 'sr-only', text: t('rules.diff') }),
        h('thead', {}, h('tr', {}, ['rules.col.code', 'rules.col.change', 'rules.col.field', 'rules.col.a', 'rules.col.b']
          .map((k) => h('th', { text: t(k, { a: selA.value, b: selB.value }), attrs: { scope: 'col' } })))),
        h('tbody', { attrs: { 'data-testid': 'rules-diff-rows' } }, rows.map((d) => h('tr', {},
          h('td', { class: 'mono', text: d.code }), h('td', { text: t('rules.change.' + d.change) }),
          h('td', { class: 'mono', text: d.field }), h('td', { text: d.a }), h('td', { text: d.b })))))
        : h('p', { text: t('rules.same') }));
    } catch (err) {
      fill(diffOut, h('p', { class: 'error', text: t('rules.failed', { reason: err.reason || err.message }) }));
    }
  }

  return () => { alive = false; };
}
