// The auditor's trail of one entry (GET /v1/entries/{id}/trail): its place
// in its chain (origin, seq, previous hash, hash), the node's check of its
// hash, the chain up to it and its signature with the origin's key, and the
// entries of this node that refer to it. Below, a whole chain verified on
// demand (GET /v1/ledger/{origin}/verify, streamed: one JSON message per
// line, progress then the verdict).
import { h, fill } from '../dom.js';
import { ApiError } from '../api.js';

const typeName = (t) => String(t || '').replace('ENTRY_TYPE_', '');

export function render(root, { me, t, api }) {
  let alive = true;
  let reader = null;
  const idInput = h('input', { attrs: { id: 'trail-id', name: 'id', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: '64', placeholder: me.nodeOrg + '-1', 'data-testid': 'trail-id' } });
  const form = h('form', { class: 'toolbar', attrs: { 'data-testid': 'trail-form' } },
    h('label', { text: t('audit.trail.id'), attrs: { for: 'trail-id' } }), idInput,
    h('button', { text: t('audit.trail.open'), attrs: { type: 'submit', 'data-testid': 'trail-open' } }));
  const out = h('div', { attrs: { 'data-testid': 'trail-out', 'aria-live': 'polite' } });
  form.addEventListener('submit', (e) => { e.preventDefault(); open(idInput.value.trim()); });

  const originInput = h('input', { attrs: { id: 'verify-origin', name: 'origin', required: true, inputmode: 'numeric', maxlength: '12', value: me.nodeOrg, 'data-testid': 'verify-origin' } });
  const bar = h('progress', { attrs: { max: '1', value: '0', 'aria-labelledby': 'verify-title', 'data-testid': 'verify-bar' } });
  const vstatus = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'verify-status' } });
  const vform = h('form', { class: 'toolbar', attrs: { 'data-testid': 'verify-form' } },
    h('label', { text: t('audit.verify.origin'), attrs: { for: 'verify-origin' } }), originInput,
    h('button', { text: t('audit.verify.start'), attrs: { type: 'submit', 'data-testid': 'verify-start' } }));
  vform.addEventListener('submit', (e) => { e.preventDefault(); verify(originInput.value.trim()); });

  fill(root,
    h('h1', { text: t('audit.trail.title') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'trail-title' } },
      h('h2', { text: t('audit.trail.find'), attrs: { id: 'trail-title' } }), form, out),
    h('section', { class: 'panel audit-verify', attrs: { 'aria-labelledby': 'verify-title' } },
      h('h2', { text: t('audit.verify.title'), attrs: { id: 'verify-title' } }),
      h('p', { class: 'hint', text: t('audit.verify.hint') }), vform, bar, vstatus));

  const want = new URLSearchParams(location.hash.split('?')[1] || '').get('id');
  if (want) { idInput.value = want; open(want); }
  return () => { alive = false; if (reader) reader.cancel().catch(() => {}); };

  async function open(id) {
    if (!id) return;
    fill(out, h('p', { class: 'status', text: t('list.loading') }));
    let tr;
    try {
      tr = await api('GET', '/v1/entries/' + encodeURIComponent(id) + '/trail');
    } catch (err) {
      if (!alive) return;
      const key = err.status === 404 ? 'audit.trail.notFound' : err.status === 400 ? 'audit.trail.badId' : 'error.generic';
      fill(out, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'trail-error' } },
        h('p', { text: t(key, { id, reason: err.reason }) }),
        h('p', { class: 'mono', text: err.reason })));
      return;
    }
    if (!alive) return;
    show(tr);
  }

  function show(tr) {
    const le = tr.entry || {};
    const meta = le.meta || {};
    const c = tr.check || {};
    const yes = (ok) => h('span', { class: ok ? 'mark ok' : 'mark bad', text: ok ? t('audit.yes') : t('audit.no') });
    const verdict = c.ok
      ? h('div', { class: 'box recorded', attrs: { 'data-testid': 'trail-verdict', 'data-ok': 'true' } },
        h('p', { text: t('audit.trail.verified', { key: c.keyFingerprint || '' }) }))
      : h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'trail-verdict', 'data-ok': 'false' } },
        h('p', { text: t('audit.trail.broken', { seq: c.problemSeq || '', failure: c.failure || '' }) }),
        h('p', { class: 'mono', text: c.problem || '' }));
    const row = (label, value, cls) => h('tr', {}, h('th', { text: t(label), attrs: { scope: 'row' } }), h('td', { class: cls || '', text: value }));
    const facts = h('table', { class: 'facts', attrs: { 'data-testid': 'trail-facts' } },
      h('caption', { class: 'sr-only', text: t('audit.trail.place') }),
      h('tbody', {},
        row('audit.f.id', meta.id, 'mono'),
        row('audit.f.origin', meta.origin, 'mono'),
        row('audit.f.seq', meta.seq),
        row('audit.f.type', typeName(meta.type)),
        row('audit.f.author', meta.author),
        row('audit.f.recordedAt', meta.recordedAt),
        row('audit.f.prevHash', le.prevHash, 'mono hash'),
        row('audit.f.hash', meta.hash, 'mono hash'),
        row('audit.f.key', c.keyFingerprint, 'mono'),
        h('tr', {}, h('th', { text: t('audit.f.hashOk'), attrs: { scope: 'row' } }), h('td', { attrs: { 'data-testid': 'trail-hash-ok' } }, yes(c.hashOk))),
        h('tr', {}, h('th', { text: t('audit.f.chainOk'), attrs: { scope: 'row' } }), h('td', { attrs: { 'data-testid': 'trail-chain-ok' } }, yes(c.chainOk))),
        h('tr', {}, h('th', { text: t('audit.f.signatureOk'), attrs: { scope: 'row' } }), h('td', { attrs: { 'data-testid': 'trail-signature-ok' } }, yes(c.signatureOk)))));
    const refs = tr.referencedBy || [];
    const refRows = refs.map((r) => {
      const m = r.entry || {};
      return h('tr', { attrs: { 'data-entry': m.id } },
        h('td', { class: 'mono' }, h('a', { text: m.id, attrs: { href: '#/trail?id=' + encodeURIComponent(m.id) } })),
        h('td', { text: typeName(m.type) }),
        h('td', { text: r.field }),
        h('td', { text: m.author }),
        h('td', { text: m.recordedAt }));
    });
    const refTable = h('table', { class: 'list', attrs: { 'data-testid': 'trail-refs' } },
      h('caption', { class: 'sr-only', text: t('audit.trail.refs') }),
      h('thead', {}, h('tr', {}, ['audit.r.entry', 'audit.r.type', 'audit.r.field', 'audit.r.author', 'audit.r.recordedAt']
        .map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
      h('tbody', {}, refRows.length ? refRows : h('tr', {}, h('td', { text: t('audit.trail.noRefs'), attrs: { colspan: '5' } }))));
    fill(out, verdict, facts,
      h('h3', { text: t('audit.trail.refs') }),
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('audit.trail.refs') } }, refTable),
      h('p', { class: 'status', attrs: { 'data-testid': 'trail-scanned' }, text: t(tr.truncated ? 'audit.trail.truncated' : 'audit.trail.scanned', { n: Number(tr.scanned || 0) }) }),
      h('details', {}, h('summary', { text: t('audit.trail.raw') }),
        h('pre', { class: 'mono raw', text: JSON.stringify(le, null, 2) })));
  }

  // verify reads the streamed answer line by line: {"result": {...}} per
  // message, or {"error": {...}}.
  async function verify(origin) {
    if (!/^\d{12}$/.test(origin)) {
      vstatus.textContent = t('audit.verify.badOrigin');
      return;
    }
    if (reader) await reader.cancel().catch(() => {});
    bar.value = 0;
    bar.max = 1;
    vstatus.textContent = t('audit.verify.running', { checked: 0, head: '…' });
    vstatus.removeAttribute('data-ok');
    let resp;
    try {
      resp = await fetch('/v1/ledger/' + origin + '/verify', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      vstatus.textContent = t('error.generic', { reason: String(e) });
      return;
    }
    if (!resp.ok) {
      let body = null;
      try { body = await resp.json(); } catch { body = null; }
      const err = new ApiError(resp.status, body);
      vstatus.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let last = null;
    for (;;) {
      let chunk;
      try { chunk = await reader.read(); } catch { break; }
      if (!alive) return;
      if (chunk.done) break;
      buf += dec.decode(chunk.value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.error) {
          vstatus.textContent = t('error.generic', { reason: msg.error.message });
          return;
        }
        last = msg.result || {};
        progress(last);
      }
    }
    reader = null;
    if (!last || !last.done) vstatus.textContent = t('audit.verify.cut');
  }

  function progress(m) {
    const head = Number(m.head || 0);
    const checked = Number(m.checked || 0);
    bar.max = Math.max(head, 1);
    bar.value = checked;
    if (!m.done) {
      vstatus.textContent = t('audit.verify.running', { checked, head });
      return;
    }
    const c = m.check || {};
    vstatus.dataset.ok = c.ok ? 'true' : 'false';
    vstatus.textContent = c.ok
      ? t('audit.verify.ok', { checked, key: c.keyFingerprint || '' })
      : t('audit.verify.bad', { seq: c.problemSeq || '', failure: c.failure || '', problem: c.problem || '' });
  }
}
