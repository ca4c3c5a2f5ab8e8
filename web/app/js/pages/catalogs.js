// The district's catalog versions (职责权限库; issue 14 part 6, helper
// console-gov): the versions of the district's chain as every node judges
// them (GET /v1/district/catalogs: draft, live, superseded, ignored with
// the reason), one shown whole (GET /v1/district/catalogs/{version}: posts,
// and each matter with its steps, posts and time limits), two compared
// matter by matter and step by step, and a draft published by a rules
// officer who did not draft it (POST .../publish; the district refuses the
// drafter with its reason, shown here). A new version is drafted from a
// form of the catalog (catalog-draft.js).
import { h, fill } from '../dom.js';
import { table, emptyRow, yuan } from './review-common.js';
import { draftPanel } from './catalog-draft.js';

// limitText words a time limit ("2 working days").
function limitText(t, l) {
  if (!l || !l.amount) return '';
  return t('cat.limit.' + String(l.unit || '').replace('LIMIT_UNIT_', ''), { n: l.amount });
}

// diffCatalogs compares two catalogs: posts and matters added or removed,
// and each field of a matter or step that differs.
export function diffCatalogs(t, a, b) {
  const out = [];
  const by = (xs) => new Map((xs || []).map((x) => [x.code, x]));
  const show = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const pa = by(a.posts), pb = by(b.posts);
  for (const code of [...new Set([...pa.keys(), ...pb.keys()])].sort()) {
    const x = pa.get(code), y = pb.get(code);
    if (!x) out.push({ what: 'post', code, change: 'added', field: '', a: '', b: y.name });
    else if (!y) out.push({ what: 'post', code, change: 'removed', field: '', a: x.name, b: '' });
    else if (x.name !== y.name || x.tier !== y.tier) out.push({ what: 'post', code, change: 'changed', field: 'name', a: x.name, b: y.name });
  }
  const ma = by(a.matters), mb = by(b.matters);
  for (const code of [...new Set([...ma.keys(), ...mb.keys()])].sort()) {
    const x = ma.get(code), y = mb.get(code);
    if (!x) { out.push({ what: 'matter', code, change: 'added', field: '', a: '', b: y.name }); continue; }
    if (!y) { out.push({ what: 'matter', code, change: 'removed', field: '', a: x.name, b: '' }); continue; }
    for (const f of ['name', 'category', 'legalBasis', 'conditions', 'thresholdFen', 'feeFen', 'totalLimit']) {
      if (show(x[f]) !== show(y[f])) out.push({ what: 'matter', code, change: 'changed', field: f, a: show(x[f]), b: show(y[f]) });
    }
    const sa = by(x.steps), sb = by(y.steps);
    const order = (m) => (m.steps || []).map((s) => s.code).join(' → ');
    if (order(x) !== order(y)) out.push({ what: 'matter', code, change: 'changed', field: 'steps', a: order(x), b: order(y) });
    for (const sc of [...new Set([...sa.keys(), ...sb.keys()])].sort()) {
      const s1 = sa.get(sc), s2 = sb.get(sc);
      if (!s1 || !s2) continue; // the order line above says it
      for (const f of ['name', 'post', 'limit', 'minDuration', 'requiresResolution', 'description']) {
        if (show(s1[f]) !== show(s2[f])) out.push({ what: 'step', code: code + '/' + sc, change: 'changed', field: f, a: show(s1[f]), b: show(s2[f]) });
      }
    }
  }
  return out;
}

export function render(root, { me, t, api }) {
  const perms = new Set(me.permissions || []);
  let alive = true;
  let versions = [];
  const cache = new Map();
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'cat-status' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'cat-outcome' } });
  const rows = h('tbody', { attrs: { 'data-testid': 'cat-rows' } });
  const cols = ['cat.col.version', 'cat.col.state', 'cat.col.draftedBy', 'cat.col.publishedBy', 'cat.col.matters', 'cat.col.posts', 'cat.col.act'];
  const pick = h('select', { attrs: { id: 'cat-show', 'data-testid': 'cat-show' } });
  const showBtn = h('button', { text: t('cat.show'), attrs: { type: 'button', 'data-testid': 'cat-show-btn' } });
  const shown = h('div', { attrs: { 'data-testid': 'cat-shown' } });
  const selA = h('select', { attrs: { id: 'cat-diff-a', 'data-testid': 'cat-diff-a' } });
  const selB = h('select', { attrs: { id: 'cat-diff-b', 'data-testid': 'cat-diff-b' } });
  const diffBtn = h('button', { text: t('cat.compare'), attrs: { type: 'button', 'data-testid': 'cat-compare' } });
  const diffOut = h('div', { attrs: { 'data-testid': 'cat-diff' } });
  const draft = perms.has('draft_rules') ? draftPanel({ t, api, get, onDrafted: () => load() }) : null;
  showBtn.addEventListener('click', () => show(pick.value));
  diffBtn.addEventListener('click', compare);

  fill(root,
    h('h1', { text: t('cat.title') }),
    status, outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cat-list-title' } },
      h('h2', { text: t('cat.list'), attrs: { id: 'cat-list-title' } }),
      table(t, t('cat.list'), cols, rows, 'cat-table')),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cat-diff-title' } },
      h('h2', { text: t('cat.diff'), attrs: { id: 'cat-diff-title' } }),
      h('div', { class: 'toolbar wrap' },
        h('label', { text: t('rules.diffA'), attrs: { for: 'cat-diff-a' } }), selA,
        h('label', { text: t('rules.diffB'), attrs: { for: 'cat-diff-b' } }), selB, diffBtn),
      diffOut),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cat-one-title' } },
      h('h2', { text: t('cat.one'), attrs: { id: 'cat-one-title' } }),
      h('div', { class: 'toolbar wrap' }, h('label', { text: t('cat.col.version'), attrs: { for: 'cat-show' } }), pick, showBtn),
      shown),
    draft ? draft.el : null);
  load();
  return () => { alive = false; if (draft) draft.stop(); };

  async function load() {
    let r;
    try {
      r = await api('GET', '/v1/district/catalogs');
    } catch (err) {
      if (alive) status.textContent = t('error.generic', { reason: err.reason || err.message });
      return;
    }
    if (!alive) return;
    versions = r.catalogs || [];
    status.textContent = t('cat.count', { n: versions.length, live: r.live || t('rules.noLive') });
    fill(rows, versions.length ? versions.slice().reverse().map((c) => h('tr', { attrs: { 'data-version': c.version, 'data-state': c.state } },
      h('td', { class: 'mono', text: c.version }),
      h('td', { class: c.state === 'ignored' ? 'wrap-text' : '', text: t('cat.state.' + c.state) + (c.ignoredReason ? '：' + c.ignoredReason : '') }),
      h('td', { text: c.draftedBy }),
      h('td', { text: c.publishedBy }),
      h('td', { class: 'num', text: String(c.matters || 0) }),
      h('td', { class: 'num', text: String(c.posts || 0) }),
      h('td', {}, (c.state === 'draft' || c.state === 'ignored') && c.draftId && perms.has('publish_rules')
        ? h('button', { text: t('rules.publish'), attrs: { type: 'button', 'data-publish': c.version }, on: { click: () => publish(c.version) } })
        : null)))
      : emptyRow(t('cat.none'), cols.length));
    const opts = (sel, want) => {
      const keep = sel.value;
      fill(sel, versions.map((c) => h('option', { text: c.version, attrs: { value: c.version } })));
      sel.value = keep && versions.some((c) => c.version === keep) ? keep : want;
    };
    opts(pick, r.live || (versions[versions.length - 1] || {}).version);
    opts(selA, versions.length > 1 ? versions[versions.length - 2].version : (versions[0] || {}).version);
    opts(selB, (versions[versions.length - 1] || {}).version);
    if (pick.value && !shown.firstChild) show(pick.value);
    if (draft) await draft.setVersions(versions, r.live);
  }

  async function get(v) {
    if (!cache.has(v)) cache.set(v, (await api('GET', '/v1/district/catalogs/' + encodeURIComponent(v))).catalog || {});
    return cache.get(v);
  }

  async function show(v) {
    if (!v) return;
    let cat;
    try {
      cat = await get(v);
    } catch (err) {
      if (alive) fill(shown, h('p', { class: 'error', text: t('error.generic', { reason: err.reason || err.message }) }));
      return;
    }
    if (!alive) return;
    const posts = new Map((cat.posts || []).map((p) => [p.code, p.name]));
    const postRows = h('tbody', {}, (cat.posts || []).map((p) => h('tr', {},
      h('td', { class: 'mono', text: p.code }), h('td', { text: p.name }), h('td', { text: t('cat.tier.' + String(p.tier || '').replace('TIER_', '')) }))));
    const matterRows = h('tbody', { attrs: { 'data-testid': 'cat-matters' } }, (cat.matters || []).map((m) => h('tr', { attrs: { 'data-matter': m.code } },
      h('td', { class: 'mono', text: m.code }),
      h('td', { text: m.name }),
      h('td', { text: m.category || '' }),
      h('td', { class: 'wrap-text', text: m.legalBasis || '' }),
      h('td', { class: 'num', text: m.thresholdFen ? yuan(m.thresholdFen) : '' }),
      h('td', { class: 'wrap-text' }, h('ol', { class: 'steps' }, (m.steps || []).map((s) => h('li', { attrs: { 'data-step': s.code } },
        `${s.name || s.code} · ${posts.get(s.post) || s.post} · ${limitText(t, s.limit)}`)))),
      h('td', { text: limitText(t, m.totalLimit) }))));
    fill(shown,
      h('h3', { text: t('cat.heading', { version: v, district: cat.district || '' }) }),
      h('p', { class: 'muted', text: t('cat.by', { drafted: cat.draftedBy || '', published: cat.publishedBy || '—' }) }),
      table(t, t('cat.matters'), ['cat.col.code', 'cat.col.name', 'cat.col.category', 'cat.col.basis', 'cat.col.threshold', 'cat.col.steps', 'cat.col.total'], matterRows, 'cat-matters-table'),
      h('h3', { text: t('cat.posts') }),
      table(t, t('cat.posts'), ['cat.col.code', 'cat.col.name', 'cat.col.tier'], postRows, 'cat-posts-table'));
  }

  async function compare() {
    try {
      const [a, b] = await Promise.all([get(selA.value), get(selB.value)]);
      const d = diffCatalogs(t, a, b);
      fill(diffOut, d.length ? table(t, t('cat.diff'), ['cat.col.what', 'cat.col.code', 'rules.col.change', 'rules.col.field', selA.value, selB.value]
        .map((k) => (k === selA.value || k === selB.value ? h('th', { text: k, attrs: { scope: 'col' } }) : k)),
      h('tbody', { attrs: { 'data-testid': 'cat-diff-rows' } }, d.map((x) => h('tr', {},
        h('td', { text: t('cat.what.' + x.what) }), h('td', { class: 'mono', text: x.code }), h('td', { text: t('rules.change.' + x.change) }),
        h('td', { class: 'mono', text: x.field }), h('td', { class: 'wrap-text', text: x.a }), h('td', { class: 'wrap-text', text: x.b })))), 'cat-diff-table')
        : h('p', { text: t('cat.same') }));
    } catch (err) {
      fill(diffOut, h('p', { class: 'error', text: t('error.generic', { reason: err.reason || err.message }) }));
    }
  }

  async function publish(v) {
    try {
      const r = await api('POST', '/v1/district/catalogs/' + encodeURIComponent(v) + '/publish', { version: v }, { quiet: true });
      cache.clear();
      // The page is drawn again first and the outcome said after: what
      // the message speaks of is on the page when it appears.
      await load();
      if (!alive) return;
      fill(outcome, h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'cat-published' }, text: t('cat.published', { version: v, id: r.entryId }) }));
    } catch (err) {
      fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'cat-refused' }, text: t('rules.refused', { reason: err.reason || err.message }) }));
    }
  }
}
