// The villagers' complaints that came down the district's chain to this
// town (GET /v1/complaints, issue 15): what each says, its photos' hashes,
// the contact only the town can open, the GOV-COMPLAINT procedure the town
// opened for it and the replies sent. Whoever holds the post of the open
// step replies (POST /v1/complaints/{id}/replies: the complainant reads it
// on the public status page) and decides the step
// (POST /v1/workflow/{id}/decisions); the last step closes only once a
// reply is recorded. Everything typed is set as text, never as markup.
import { h, fill } from '../dom.js';
import { when } from './review-common.js';

export function render(root, { me, t, api }) {
  let alive = true;
  // drafts keeps what the reviewer has typed per complaint: the list is
  // drawn again after every action, and a reply half written must survive
  // that (it did not: text typed while the list reloaded was lost).
  const drafts = new Map();
  const posts = new Set((me.account && me.account.posts) || []);
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'cp-status' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'cp-outcome' } });
  const filter = h('select', { attrs: { 'aria-label': t('complaints.filter'), 'data-testid': 'cp-filter' } },
    ['', 'received', 'open', 'completed', 'rejected'].map((s) => h('option', { text: t('complaints.status.' + (s || 'all')), attrs: { value: s } })));
  filter.addEventListener('change', load);
  const list = h('div', { attrs: { 'data-testid': 'cp-list' } });
  fill(root, h('h1', { text: t('complaints.title') }),
    h('p', { class: 'hint', text: t('complaints.hint') }), outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'cp-head' } },
      h('h2', { text: t('complaints.list'), attrs: { id: 'cp-head' } }),
      h('label', { text: t('complaints.filter') + ' ' }, filter), list, status));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let answer;
    try {
      const q = filter.value ? '?status=' + encodeURIComponent(filter.value) : '';
      answer = await api('GET', '/v1/complaints' + q);
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const items = answer.complaints || [];
    fill(list, items.length ? items.slice().reverse().map(card) : h('p', { text: t('complaints.none') }));
    status.textContent = t('complaints.count', { n: items.length });
  }

  function card(r) {
    const c = r.complaint || {};
    const p = r.procedure;
    const id = r.entry.id;
    const state = p ? p.status : 'received';
    const step = p && p.openStep ? (p.steps || []).find((s) => s.code === p.openStep) : null;
    const rows = [
      [t('complaints.col.number'), c.number],
      [t('complaints.col.village'), c.village],
      [t('complaints.col.category'), t('complaints.cat.' + c.category)],
      [t('complaints.col.filed'), when(r.entry.recordedAt)],
      [t('complaints.col.posts'), (c.posts || []).join(', ') || '—'],
      [t('complaints.col.photos'), (c.photos || []).length ? (c.photos || []).map((x) => x.slice(0, 12)).join(', ') : '—'],
      [t('complaints.col.contact'), r.contact || r.contactProblem || t('complaints.anonymous')],
      [t('complaints.col.status'), t('complaints.status.' + state) + (step ? ' · ' + t('complaints.atStep', { step: step.name || step.code, post: step.post }) : '')],
    ];
    const replies = (r.replies || []).map((x) => h('div', { class: 'reply', attrs: { 'data-testid': 'cp-reply' } },
      h('p', { class: 'muted', text: when(x.entry.recordedAt) + ' · ' + x.entry.author }),
      h('p', { class: 'wrap-text', text: x.reply.text })));
    const box = h('article', { class: 'panel complaint', attrs: { 'data-complaint': id, 'data-number': c.number, 'data-state': state } },
      h('h3', { text: t('complaints.heading', { number: c.number }) }),
      h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
      h('p', { class: 'wrap-text', attrs: { 'data-testid': 'cp-text' }, text: c.text }),
      (c.photos || []).length ? h('div', { class: 'photos' }, ...(c.photos || []).map(photo)) : null,
      h('h4', { text: t('complaints.replies') }),
      replies.length ? h('div', {}, ...replies) : h('p', { class: 'muted', text: t('complaints.noReply') }));
    if (step && posts.has(step.post)) box.append(actions(r, p, step));
    return box;
  }

  // photo shows one of the complaint's photos once the town has fetched it
  // from the district (GET /v1/attachments/{sha}); only a JPEG or a PNG is
  // shown, as a data: image (the console's CSP allows no other source).
  function photo(sha) {
    const box = h('figure', { attrs: { 'data-photo': sha } }, h('figcaption', { class: 'muted mono', text: sha.slice(0, 12) }));
    api('GET', '/v1/attachments/' + encodeURIComponent(sha), undefined, { quiet: true }).then((r) => {
      const a = r.attachment || {};
      if (!alive || !r.content || !['image/jpeg', 'image/png'].includes(a.contentType)) return;
      box.prepend(h('img', { attrs: { src: 'data:' + a.contentType + ';base64,' + r.content, alt: t('complaints.photoOf', { sha: sha.slice(0, 12) }), width: 160, 'data-testid': 'cp-photo' } }));
    }, () => {
      if (alive) box.append(h('p', { class: 'muted', text: t('complaints.photoPending') }));
    });
    return box;
  }

  // actions are the reply box and the step's decision, for the holder of
  // the open step's post.
  function actions(r, p, step) {
    const text = h('textarea', { attrs: { rows: 4, maxlength: 2000, 'aria-label': t('complaints.replyOf', { number: r.complaint.number }), 'data-testid': 'cp-reply-text' } });
    text.value = drafts.get(r.entry.id) || '';
    text.addEventListener('input', () => drafts.set(r.entry.id, text.value));
    const send = h('button', { class: 'primary', text: t('complaints.send'), attrs: { type: 'button', 'data-testid': 'cp-send' } });
    const approve = h('button', { text: t('complaints.approve', { step: step.name || step.code }), attrs: { type: 'button', 'data-testid': 'cp-approve' } });
    send.addEventListener('click', async () => {
      if (!text.value.trim()) { text.setAttribute('aria-invalid', 'true'); return; }
      await act(() => api('POST', '/v1/complaints/' + encodeURIComponent(r.entry.id) + '/replies',
        { reply: { org: me.nodeOrg, complaintId: r.entry.id, text: text.value.trim() } }, { quiet: true }).then((x) => { drafts.delete(r.entry.id); return x; }),
      t('complaints.sent', { number: r.complaint.number }));
    });
    approve.addEventListener('click', async () => {
      const d = { org: p.procedure.org, procedureId: p.entry.id, stepCode: step.code, action: 'STEP_ACTION_APPROVE', post: step.post };
      await act(() => api('POST', '/v1/workflow/' + encodeURIComponent(p.entry.id) + '/decisions', { decision: d }, { quiet: true }),
        t('complaints.approved', { step: step.name || step.code, number: r.complaint.number }));
    });
    return h('div', { class: 'decide' }, text, send, approve);
  }

  // act runs one action, draws the list again, and only then says how
  // it went: what the message speaks of is on the page when it appears.
  async function act(call, done) {
    let said;
    try {
      await call();
      said = h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'cp-done' }, text: done });
    } catch (err) {
      said = h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'cp-refused' }, text: t('error.generic', { reason: err.reason }) });
    }
    if (!alive) return;
    await load();
    if (!alive) return;
    fill(outcome, said);
  }
}
