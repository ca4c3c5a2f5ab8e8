// The catalog draft form of the rules officer's catalogs page (issue 14
// part 6): a new version of the district's catalog (职责权限库) made from a
// version of the chain — its posts, and each matter with its threshold,
// fee, promised time and the steps of its procedure (post, time limit,
// least duration, resolution) — drafted by POST /v1/district/catalogs. The
// member checks it (catalog.Validate) and names every field it refuses;
// each is marked next to its input. A draft is inert until a second rules
// officer publishes it from the versions list.
import { h, fill, clear } from '../dom.js';

const tiers = ['TIER_VILLAGE', 'TIER_TOWN', 'TIER_DISTRICT'];
const units = ['LIMIT_UNIT_WORKING_DAYS', 'LIMIT_UNIT_WORKING_HOURS', 'LIMIT_UNIT_CALENDAR_DAYS'];
const categories = ['funds', 'assets', 'resources', 'governance'];

// Bounds of what the form adds (the member bounds the request too).
const maxPosts = 200, maxMatters = 200, maxSteps = 50;

// jsonPath turns a field as the member names it
// ("matters[2].steps[0].min_duration.amount") into the keys of the
// catalog's JSON (["matters", 2, "steps", 0, "minDuration", "amount"]).
export function jsonPath(field) {
  const out = [];
  for (const part of String(field).split('.')) {
    const m = /^([a-z_]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return null;
    out.push(m[1].replace(/_([a-z])/g, (_, c) => c.toUpperCase()));
    for (const i of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}

// setAt sets obj at keys, making the objects on the way.
function setAt(obj, keys, v) {
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    if (o[keys[i]] === undefined || o[keys[i]] === null) o[keys[i]] = typeof keys[i + 1] === 'number' ? [] : {};
    o = o[keys[i]];
  }
  o[keys[keys.length - 1]] = v;
}

// safeId makes an element id of a field path.
const safeId = (field) => 'cd-' + field.replace(/[^A-Za-z0-9_-]/g, '-');

// yuanText shows fen as yuan for an input ("" for none).
function yuanText(fen) {
  const n = Number(fen || 0);
  return n ? String(n / 100) : '0';
}

export function draftPanel({ t, api, get, onDrafted }) {
  let cat = null; // the catalog being edited, as JSON
  let baseVersion = '';
  let alive = true;
  const base = h('select', { attrs: { id: 'cd-base', 'data-testid': 'cd-base' } });
  const version = h('input', { attrs: { id: 'cd-version', 'data-field': 'version', 'data-testid': 'cd-version', autocomplete: 'off', maxlength: '64', spellcheck: 'false' } });
  const body = h('div', { class: 'cat-draft', attrs: { 'data-testid': 'cd-form' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'cd-outcome' } });
  const submit = h('button', { class: 'primary', text: t('cd.submit'), attrs: { type: 'button', 'data-testid': 'cd-submit' }, on: { click: send } });
  base.addEventListener('change', () => load(base.value));

  const el = h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cd-title' } },
    h('h2', { text: t('cd.title'), attrs: { id: 'cd-title' } }),
    h('p', { class: 'hint', text: t('cd.hint') }),
    h('div', { class: 'toolbar wrap' },
      h('label', { text: t('cd.base'), attrs: { for: 'cd-base' } }), base,
      h('label', { text: t('cd.version'), attrs: { for: 'cd-version' } }), version),
    body, outcome, submit);

  // setVersions fills the base choice: the version kept, else the live
  // one, else the newest; it resolves once the form is drawn again.
  function setVersions(versions, live) {
    const keep = base.value;
    const drafted = versions.filter((c) => c.draftId);
    fill(base, drafted.length ? drafted.map((c) => h('option', { text: c.version + ' · ' + t('cat.state.' + c.state), attrs: { value: c.version } }))
      : h('option', { text: t('cd.builtin'), attrs: { value: '' } }));
    const want = keep && drafted.some((c) => c.version === keep) ? keep : live || (drafted[drafted.length - 1] || {}).version || '';
    base.value = want;
    return !cat || want !== baseVersion ? load(want) : Promise.resolve();
  }

  async function load(v) {
    baseVersion = v;
    if (!v) {
      cat = null;
      fill(body, h('p', { class: 'muted', text: t('cd.builtinHint') }));
      return;
    }
    fill(body, h('p', { class: 'muted', text: t('list.loading') }));
    let got;
    try {
      got = await get(v);
    } catch (err) {
      if (alive) fill(body, h('p', { class: 'error', text: t('error.generic', { reason: err.reason || err.message }) }));
      return;
    }
    if (!alive || v !== baseVersion) return;
    cat = structuredClone(got);
    for (const f of ['draftedBy', 'publishedBy', 'state', 'sha256']) delete cat[f];
    draw();
  }

  // A form control of field (the member's path), labelled for people;
  // kind: str, int, yuan, bool or a list of options.
  function control(field, kind, value, label, opts = {}) {
    const attrs = { id: safeId(field), 'data-field': field, 'data-kind': Array.isArray(kind) ? 'enum' : kind, 'aria-label': opts.bare ? label : null };
    let c;
    if (Array.isArray(kind)) {
      c = h('select', { attrs }, (opts.blank ? [h('option', { text: '—', attrs: { value: '' } })] : []),
        kind.map(([v, text]) => h('option', { text, attrs: { value: v } })));
      c.value = value || (opts.blank ? '' : kind[0][0]);
    } else if (kind === 'bool') {
      c = h('input', { attrs: { ...attrs, type: 'checkbox' } });
      c.checked = !!value;
    } else {
      c = h('input', { attrs: { ...attrs, type: kind === 'str' ? 'text' : 'number', step: kind === 'yuan' ? '0.01' : kind === 'int' ? '1' : null,
        maxlength: kind === 'str' ? String(opts.max || 200) : null, autocomplete: 'off', class: opts.wide ? 'wide' : null } });
      c.value = value === undefined || value === null ? '' : String(value);
    }
    if (opts.bare) return c;
    return h('div', { class: 'field' }, h('label', { text: label, attrs: { for: attrs.id } }), c);
  }

  const unitOpts = () => units.map((u) => [u, t('cd.unit.' + u.replace('LIMIT_UNIT_', ''))]);

  function draw() {
    const posts = cat.posts || [];
    const postOpts = posts.map((p) => [p.code, `${p.name || p.code} (${p.code})`]);
    const postRows = h('tbody', { attrs: { 'data-testid': 'cd-posts' } }, posts.map((p, i) => h('tr', { attrs: { 'data-post': p.code || '' } },
      h('td', {}, control(`posts[${i}].code`, 'str', p.code, t('cat.col.code') + ' ' + (i + 1), { bare: true, max: 64 })),
      h('td', {}, control(`posts[${i}].name`, 'str', p.name, t('cat.col.name') + ' ' + (p.code || i + 1), { bare: true, max: 64 })),
      h('td', {}, control(`posts[${i}].tier`, tiers.map((x) => [x, t('cat.tier.' + x.replace('TIER_', ''))]), p.tier, t('cat.col.tier') + ' ' + (p.code || i + 1), { bare: true })),
      h('td', {}, h('button', { text: t('cd.remove'), attrs: { type: 'button', 'aria-label': t('cd.removePost', { code: p.code || i + 1 }) }, on: { click: () => change(() => cat.posts.splice(i, 1)) } })))));
    fill(body,
      h('h3', { text: t('cat.posts') }),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list form' },
        h('caption', { class: 'sr-only', text: t('cat.posts') }),
        h('thead', {}, h('tr', {}, ['cat.col.code', 'cat.col.name', 'cat.col.tier', 'cat.col.act'].map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
        postRows)),
      h('button', { text: t('cd.addPost'), attrs: { type: 'button', 'data-testid': 'cd-add-post', 'data-field': 'posts' }, on: { click: () => change(() => {
        if ((cat.posts = cat.posts || []).length < maxPosts) cat.posts.push({ code: '', name: '', tier: 'TIER_VILLAGE' });
      }) } }),
      h('h3', { text: t('cat.matters') }),
      (cat.matters || []).map((m, i) => matterForm(m, i, postOpts)),
      h('button', { text: t('cd.addMatter'), attrs: { type: 'button', 'data-testid': 'cd-add-matter', 'data-field': 'matters' }, on: { click: () => change(() => {
        if ((cat.matters = cat.matters || []).length < maxMatters) {
          cat.matters.push({ code: '', name: '', category: 'funds', totalLimit: { unit: units[0], amount: 10 }, steps: [{ code: '', name: '', post: (posts[0] || {}).code || '', limit: { unit: units[0], amount: 5 } }] });
          openAfter = cat.matters.length - 1;
        }
      }) } }));
    if (openAfter !== null) {
      const d = body.querySelector(`details[data-index="${openAfter}"]`);
      if (d) d.open = true;
      openAfter = null;
    }
  }
  let openAfter = null;

  function matterForm(m, i, postOpts) {
    const p = `matters[${i}]`;
    const steps = m.steps || [];
    const total = m.totalLimit || {};
    const stepRows = h('tbody', {}, steps.map((s, j) => {
      const sp = `${p}.steps[${j}]`;
      const who = `${m.code || i + 1}/${s.code || j + 1}`;
      const lim = s.limit || {}, min = s.minDuration || {};
      return h('tr', { attrs: { 'data-step': s.code || '' } },
        h('td', { class: 'num', text: String(j + 1) }),
        h('td', {}, control(`${sp}.code`, 'str', s.code, t('cd.step.code', { step: who }), { bare: true, max: 64 })),
        h('td', {}, control(`${sp}.name`, 'str', s.name, t('cd.step.name', { step: who }), { bare: true, max: 64 })),
        h('td', {}, control(`${sp}.post`, postOpts.some(([c]) => c === s.post) || !s.post ? postOpts : [[s.post, s.post], ...postOpts], s.post, t('cd.step.post', { step: who }), { bare: true })),
        h('td', { class: 'limit' }, control(`${sp}.limit.amount`, 'int', lim.amount, t('cd.step.limit', { step: who }), { bare: true }),
          control(`${sp}.limit.unit`, unitOpts(), lim.unit, t('cd.step.limitUnit', { step: who }), { bare: true })),
        h('td', { class: 'limit' }, control(`${sp}.min_duration.amount`, 'int', min.amount, t('cd.step.min', { step: who }), { bare: true }),
          control(`${sp}.min_duration.unit`, unitOpts(), min.unit, t('cd.step.minUnit', { step: who }), { bare: true, blank: true })),
        h('td', {}, control(`${sp}.requires_resolution`, 'bool', s.requiresResolution, t('cd.step.resolution', { step: who }), { bare: true })),
        h('td', {}, control(`${sp}.description`, 'str', s.description, t('cd.step.description', { step: who }), { bare: true, max: 500 })),
        h('td', { class: 'acts' },
          h('button', { text: '↑', attrs: { type: 'button', 'aria-label': t('cd.stepUp', { step: who }), disabled: j === 0 }, on: { click: () => change(() => { const ss = cat.matters[i].steps; ss.splice(j - 1, 0, ...ss.splice(j, 1)); }, i) } }),
          h('button', { text: t('cd.remove'), attrs: { type: 'button', 'aria-label': t('cd.removeStep', { step: who }) }, on: { click: () => change(() => cat.matters[i].steps.splice(j, 1), i) } })));
    }));
    const d = h('details', { class: 'matter', attrs: { 'data-matter': m.code || '', 'data-index': String(i) } },
      h('summary', { text: `${m.code || '—'} · ${m.name || ''} · ${t('cd.stepsN', { n: steps.length })}` }),
      h('div', { class: 'matter-grid' },
        control(`${p}.code`, 'str', m.code, t('cat.col.code'), { max: 64 }),
        control(`${p}.name`, 'str', m.name, t('cat.col.name'), { max: 64 }),
        control(`${p}.category`, categories.map((c) => [c, t('cd.category.' + c)]), m.category, t('cat.col.category')),
        control(`${p}.threshold_fen`, 'yuan', yuanText(m.thresholdFen), t('cat.col.threshold')),
        control(`${p}.fee_fen`, 'yuan', yuanText(m.feeFen), t('cd.fee')),
        control(`${p}.total_limit.amount`, 'int', total.amount, t('cd.total')),
        control(`${p}.total_limit.unit`, unitOpts(), total.unit, t('cd.totalUnit')),
        control(`${p}.retention_months`, 'int', m.retentionMonths || 0, t('cd.retention')),
        control(`${p}.legal_basis`, 'str', m.legalBasis, t('cat.col.basis'), { max: 500, wide: true }),
        control(`${p}.conditions`, 'str', m.conditions, t('cd.conditions'), { max: 500, wide: true })),
      h('div', { class: 'table-wrap' }, h('table', { class: 'list form', attrs: { 'data-testid': 'cd-steps' } },
        h('caption', { text: t('cd.steps', { matter: m.code || '' }) }),
        h('thead', {}, h('tr', {}, ['cd.col.n', 'cat.col.code', 'cat.col.name', 'cd.col.post', 'cd.col.limit', 'cd.col.min', 'cd.col.resolution', 'cd.col.description', 'cat.col.act']
          .map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
        stepRows)),
      h('div', { class: 'toolbar' },
        h('button', { text: t('cd.addStep'), attrs: { type: 'button', 'data-field': `${p}.steps` }, on: { click: () => change(() => {
          const mm = cat.matters[i];
          if ((mm.steps = mm.steps || []).length < maxSteps) mm.steps.push({ code: '', name: '', post: (postOpts[0] || [''])[0], limit: { unit: units[0], amount: 1 } });
        }, i) } }),
        h('button', { class: 'danger', text: t('cd.removeMatter'), attrs: { type: 'button' }, on: { click: () => change(() => cat.matters.splice(i, 1)) } })));
    return d;
  }

  // change reads the form, applies a change of its shape and draws it
  // again, keeping the matters that were open (and opening matter open).
  function change(fn, open) {
    const opened = new Set([...body.querySelectorAll('details[open]')].map((d) => d.dataset.index));
    cat = fromForm();
    fn();
    draw();
    for (const d of body.querySelectorAll('details')) {
      if (opened.has(d.dataset.index) || Number(d.dataset.index) === open) d.open = true;
    }
  }

  // fromForm is the catalog as the form shows it.
  function fromForm() {
    const out = structuredClone(cat);
    for (const c of body.querySelectorAll('input[data-field], select[data-field]')) {
      const keys = jsonPath(c.dataset.field);
      if (!keys) continue;
      let v;
      switch (c.dataset.kind) {
        case 'bool': v = c.checked; break;
        case 'int': v = c.value.trim() === '' ? null : Math.trunc(Number(c.value)); break;
        case 'yuan': v = c.value.trim() === '' ? 0 : Math.round(Number(c.value) * 100); break;
        default: v = c.value;
      }
      setAt(out, keys, v);
    }
    // A least duration left empty is none; a time limit left empty is
    // sent as 0 for the member to refuse by name.
    for (const m of out.matters || []) {
      if (m.totalLimit && m.totalLimit.amount === null) m.totalLimit.amount = 0;
      for (const s of m.steps || []) {
        if (s.limit && s.limit.amount === null) s.limit.amount = 0;
        const md = s.minDuration;
        if (md && md.amount === null && !md.unit) delete s.minDuration;
        else if (md) {
          if (md.amount === null) md.amount = 0;
          if (!md.unit) delete md.unit; // unspecified: refused by name
        }
      }
      if (m.retentionMonths === null) m.retentionMonths = 0;
    }
    return out;
  }

  function clearMarks() {
    for (const x of el.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    for (const x of el.querySelectorAll('[aria-describedby]')) x.removeAttribute('aria-describedby');
    for (const x of el.querySelectorAll('.field-error')) x.remove();
  }

  // target is the control a refused field names: itself, else its first
  // part (a missing time limit: its amount), else its nearest whole.
  function target(field) {
    const q = (f) => el.querySelector(`[data-field="${CSS.escape(f)}"]`);
    let c = q(field);
    if (!c) c = el.querySelector(`[data-field^="${CSS.escape(field + '.')}"], [data-field^="${CSS.escape(field + '[')}"]`);
    for (let f = field; !c && f.includes('.');) {
      f = f.slice(0, f.lastIndexOf('.'));
      c = q(f);
    }
    return c;
  }

  function mark(field, reason, n) {
    const c = target(field);
    if (!c) return false;
    const id = 'cd-err-' + n;
    c.setAttribute('aria-invalid', 'true');
    c.setAttribute('aria-describedby', ((c.getAttribute('aria-describedby') || '') + ' ' + id).trim());
    const msg = h('p', { class: 'field-error', text: reason, attrs: { id, 'data-testid': 'cd-field-error', 'data-for': field } });
    const cell = c.closest('td') || c.closest('.field') || c.parentElement;
    if (c.tagName === 'BUTTON') c.after(msg);
    else cell.append(msg);
    const d = c.closest('details');
    if (d) d.open = true;
    return true;
  }

  async function send() {
    clearMarks();
    clear(outcome);
    const v = version.value.trim();
    const req = cat ? { catalog: { ...fromForm(), version: v }, version: v } : { version: v };
    submit.disabled = true;
    try {
      const r = await api('POST', '/v1/district/catalogs', req, { quiet: true });
      if (!alive) return;
      const c = r.catalog || {};
      // The page is drawn again first and the outcome said after: what
      // the message speaks of is on the page when it appears.
      await onDrafted(c.version || v);
      if (!alive) return;
      fill(outcome, h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'cd-drafted' },
        text: t('cd.drafted', { version: c.version || v, id: r.entryId || '', by: c.draftedBy || '' }) }));
    } catch (err) {
      if (!alive) return;
      const fields = [];
      for (const d of err.details || []) for (const fv of d.fieldViolations || []) fields.push(fv);
      let n = 0;
      const unplaced = fields.filter((fv) => !mark(String(fv.field || ''), String(fv.description || ''), n++));
      const first = el.querySelector('[aria-invalid="true"]');
      fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'cd-refused' } },
        h('p', { text: fields.length ? t('cd.refusedFields', { n: fields.length }) : t('rules.refused', { reason: err.reason || err.message }) }),
        unplaced.length ? h('ul', {}, unplaced.map((fv) => h('li', { class: 'mono', text: `${fv.field}: ${fv.description}` }))) : null));
      if (first) first.focus();
    } finally {
      submit.disabled = false;
    }
  }

  return { el, setVersions, stop: () => { alive = false; } };
}
