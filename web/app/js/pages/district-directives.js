// The directives the district issued (政令督办; issue 14 part 6, helper
// console-gov): each directive of the district's chain with where every
// addressee stands (done, reported, overdue, none) and the reports the
// towns and villages recorded in their chains and sent up
// (GET /v1/district/directives); a rules officer issues a new one
// (POST /v1/district/directives). The towns' side is town-directives.js.
import { h, fill } from '../dom.js';
import { when, table, emptyRow } from './review-common.js';

const split = (s) => s.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);

export function render(root, { me, t, api }) {
  const perms = new Set(me.permissions || []);
  let alive = true;
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'dd-status' } });
  const outcome = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'dd-outcome' } });
  const rows = h('tbody', { attrs: { 'data-testid': 'dd-rows' } });
  const cols = ['dd.col.issued', 'dd.col.title', 'dd.col.deadline', 'dd.col.addressees', 'dd.col.reports', 'dd.col.done'];
  const field = (id, label, el) => h('div', { class: 'field' }, h('label', { text: t(label), attrs: { for: id } }), el);
  const title = h('input', { attrs: { id: 'dd-title', 'data-testid': 'dd-title', maxlength: '200', required: true } });
  const task = h('textarea', { attrs: { id: 'dd-task', 'data-testid': 'dd-task', rows: '3', maxlength: '2000', required: true } });
  const addressees = h('input', { attrs: { id: 'dd-addressees', 'data-testid': 'dd-addressees', maxlength: '400', placeholder: '350505100', required: true } });
  const deadline = h('input', { attrs: { id: 'dd-deadline', 'data-testid': 'dd-deadline', type: 'date', required: true } });
  const form = perms.has('publish_rules') ? h('form', { class: 'form', attrs: { 'data-testid': 'dd-form' } },
    field('dd-title', 'dd.field.title', title), field('dd-task', 'dd.field.task', task),
    field('dd-addressees', 'dd.field.addressees', addressees), field('dd-deadline', 'dd.field.deadline', deadline),
    h('button', { class: 'primary', text: t('dd.issue'), attrs: { type: 'submit', 'data-testid': 'dd-issue' } })) : null;
  if (form) form.addEventListener('submit', (e) => { e.preventDefault(); issue(); });

  fill(root,
    h('h1', { text: t('dd.title') }),
    status, outcome,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'dd-list-title' } },
      h('h2', { text: t('dd.list'), attrs: { id: 'dd-list-title' } }),
      table(t, t('dd.list'), cols, rows, 'dd-table')),
    form ? h('section', { class: 'panel', attrs: { 'aria-labelledby': 'dd-new-title' } },
      h('h2', { text: t('dd.new'), attrs: { id: 'dd-new-title' } }), form) : null);
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let r;
    try {
      r = await api('GET', '/v1/district/directives');
    } catch (err) {
      if (alive) status.textContent = t('error.generic', { reason: err.reason || err.message });
      return;
    }
    if (!alive) return;
    const dirs = r.directives || [];
    fill(rows, dirs.length ? dirs.map(row) : emptyRow(t('dd.none'), cols.length));
    status.textContent = t('dd.count', { n: dirs.length }) + (r.complete ? '' : ' ' + t('dd.pending', { n: r.chainsPending }));
  }

  function row(x) {
    const d = x.directive || {};
    const reports = (x.reports || []).map((rep) => h('li', { attrs: { 'data-report': rep.entry.id, 'data-org': rep.entry.origin } },
      `${rep.entry.origin} · ${rep.entry.author || ''} · ${when(rep.entry.recordedAt)} · ${rep.report.done ? t('dd.reportDone') : t('dd.reportProgress')}：`,
      h('span', { class: 'wrap-text', text: rep.report.text || '' })));
    return h('tr', { attrs: { 'data-directive': x.entry.id, 'data-done': x.done ? 'true' : 'false' } },
      h('td', { text: when(x.entry.recordedAt) + ' · ' + (x.entry.author || '') }),
      h('td', { class: 'wrap-text' }, h('strong', { text: d.title || '' }), h('br'), h('span', { class: 'muted', text: d.task || '' })),
      h('td', { text: d.deadline || '' }),
      h('td', {}, h('ul', { class: 'counts' }, (x.addressees || []).map((a) => h('li', { attrs: { 'data-addressee': a.addressee, 'data-status': a.status } },
        h('span', { class: 'mono', text: a.addressee }), ' ', h('span', { class: 'mark ' + (a.status === 'done' ? 'ok' : a.status === 'overdue' ? 'bad' : ''), text: t('dd.status.' + a.status) }))))),
      h('td', { class: 'wrap-text' }, reports.length ? h('ul', { class: 'reports' }, reports) : h('span', { class: 'muted', text: t('dd.noReports') })),
      h('td', { text: x.done ? t('dd.done') : t('dd.open') }));
  }

  async function issue() {
    const directive = { title: title.value.trim(), task: task.value.trim(), addressees: split(addressees.value), deadline: deadline.value };
    try {
      const r = await api('POST', '/v1/district/directives', { directive }, { quiet: true });
      form.reset();
      // The list is drawn again first and the outcome said after: the new
      // directive is in the list when the message appears.
      await load();
      if (!alive) return;
      fill(outcome, h('p', { class: 'box recorded', attrs: { role: 'status', 'data-testid': 'dd-issued' }, text: t('dd.issued', { id: r.entryId }) }));
    } catch (err) {
      fill(outcome, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'dd-refused' }, text: t('rules.refused', { reason: err.reason || err.message }) }));
    }
  }
}
