// The district's directives addressed to this node (GET /v1/directives),
// with the reports this node filed on each; a report is filed with
// POST /v1/directives/{id}/reports (it travels up in the node's chain).
import { h, fill } from '../dom.js';
import { table, emptyRow, when } from './review-common.js';

export function render(root, { me, t, api }) {
  let alive = true;
  // drafts keeps the report typed per directive (its text and whether it
  // says done): the list is drawn again after every report sent, and a
  // report half written in another row must survive that.
  const drafts = new Map();
  // A report is recorded in the node's books: the node takes it only
  // from an account that may record (node/authz, ReportDirective), so the
  // form is offered to no one else (a town reviewer without it was shown
  // a form whose every report was refused).
  const mayReport = (me.permissions || []).includes('record');
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'dv-status' } });
  const tbody = h('tbody', { attrs: { 'data-testid': 'dv-rows' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'dv-outcome' } });
  const cols = ['review.col.issued', 'review.col.title', 'review.col.task', 'review.col.addressees', 'review.col.deadline', 'review.col.reports', 'review.col.done', 'review.col.report'];
  fill(root, h('h1', { text: t('review.directives.title') }), outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'dv-list' } },
      h('h2', { text: t('review.directives.list'), attrs: { id: 'dv-list' } }),
      table(t, t('review.directives.list'), cols, tbody, 'dv-table'), status));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let answer;
    try {
      answer = await api('GET', '/v1/directives');
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const list = answer.directives || [];
    fill(tbody, list.map(row));
    if (!list.length) fill(tbody, emptyRow(t('review.directives.none'), cols.length));
    status.textContent = t('review.directives.count', { n: list.length });
  }

  function row(r) {
    const d = r.directive || {};
    const id = r.entry.id;
    const text = h('input', { attrs: { type: 'text', maxlength: 1000, 'aria-label': t('review.directives.reportOf', { id }), 'data-testid': 'dv-text' } });
    const done = h('input', { attrs: { type: 'checkbox', id: 'dv-done-' + id } });
    const draft = drafts.get(id) || { text: '', done: false };
    text.value = draft.text;
    done.checked = draft.done;
    const keep = () => drafts.set(id, { text: text.value, done: done.checked });
    text.addEventListener('input', keep);
    done.addEventListener('change', keep);
    const send = h('button', { text: t('review.directives.send'), attrs: { type: 'button', 'data-testid': 'dv-send' } });
    send.addEventListener('click', async () => {
      if (!text.value.trim()) { text.setAttribute('aria-invalid', 'true'); return; }
      // The list is drawn again first and the outcome said after: what
      // the message speaks of is on the page when it appears.
      let said;
      try {
        await api('POST', '/v1/directives/' + encodeURIComponent(id) + '/reports',
          { report: { org: me.nodeOrg, directiveId: id, text: text.value.trim(), done: done.checked } }, { quiet: true });
        drafts.delete(id);
        said = h('p', { class: 'box recorded', attrs: { role: 'status' }, text: t('review.directives.sent', { id }) });
      } catch (err) {
        said = h('p', { class: 'box refused', attrs: { role: 'alert' }, text: t('error.generic', { reason: err.reason }) });
      }
      if (!alive) return;
      await load();
      if (!alive) return;
      fill(outcome, said);
    });
    return h('tr', { attrs: { 'data-directive': id } },
      h('td', { text: when(r.entry.recordedAt) }),
      h('td', { text: d.title }),
      h('td', { class: 'wrap-text', text: d.task }),
      h('td', { class: 'mono', text: (d.addressees || []).join(', ') }),
      h('td', { text: d.deadline }),
      h('td', { class: 'mono', text: (r.reportIds || []).join(', ') || '—' }),
      h('td', { text: r.done ? t('review.yes') : t('review.no') }),
      h('td', {}, mayReport && !r.done ? h('div', { class: 'decide' }, text,
        h('label', { text: t('review.directives.done'), attrs: { for: 'dv-done-' + id } }), done, send) : null));
  }
}
