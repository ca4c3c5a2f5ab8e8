// The ledgers and statements of the books (报表, issue 19) for every account
// that reads: which one, for which org (the village; at a town, the town
// to sum its villages or one village) and month, computed by the node (GET
// /v1/statements?kind&org&period&account) and drawn as the node lays it
// out: its text columns (or code and item) then its amounts in yuan, items
// indented by level, totals in bold. "Download Excel" asks the node for the
// workbook as accountants print it (xlsx=true) and saves it under the name
// the node gives.
import { h, fill } from '../dom.js';
import { query } from '../api.js';
import { download } from '../export.js';
import { yuan } from './register-list.js';
import { field as labelled, thisMonth, unmark, markRefused, say } from './refusal.js';

const kinds = ['TRIAL_BALANCE', 'BALANCE_SHEET', 'INCOME', 'GENERAL_LEDGER', 'SUBSIDIARY_LEDGER', 'CASH_JOURNAL', 'BANK_JOURNAL'];
const xlsxType = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export function render(root, { me, t, api }) {
  let alive = true;
  const field = (name, label, el) => labelled('st', name, label, el, 'field inline');
  const kind = h('select', {}, kinds.map((k) => h('option', { text: t('st.kind.' + k), attrs: { value: k } })));
  const org = h('input', { attrs: { type: 'text', inputmode: 'numeric', maxlength: '12', value: me.nodeOrg || '' } });
  const period = h('input', { attrs: { type: 'month', value: thisMonth() } });
  const account = h('input', { attrs: { type: 'text', inputmode: 'numeric', maxlength: '12', placeholder: t('st.accountHint') } });
  const xlsxBtn = h('button', { text: t('st.xlsx'), attrs: { type: 'button', 'data-testid': 'st-xlsx' } });
  const form = h('form', { class: 'toolbar wrap filters', attrs: { 'data-testid': 'st-form', novalidate: true } },
    field('kind', t('st.f.kind'), kind),
    field('org', me.tier === 'village' ? t('st.f.org') : t('st.f.orgTown'), org),
    field('period', t('st.f.period'), period),
    field('account', t('st.f.account'), account),
    h('button', { class: 'primary', text: t('st.show'), attrs: { type: 'submit', 'data-testid': 'st-show' } }),
    xlsxBtn);
  const outcome = h('div', { class: 'outcome', attrs: { 'data-testid': 'st-outcome', 'aria-live': 'polite' } });
  const sheet = h('div', { attrs: { 'data-testid': 'st-sheet' } });
  form.addEventListener('submit', (e) => { e.preventDefault(); ask(false); });
  xlsxBtn.addEventListener('click', () => ask(true));

  fill(root,
    h('h1', { text: t('st.title') }),
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'st-form-title' } },
      h('h2', { text: t('st.pick'), attrs: { id: 'st-form-title' } }), form, outcome, sheet));
  return () => { alive = false; };

  // ask computes the statement at the node and draws it; with the
  // workbook too when xlsx, saved as the node names it.
  async function ask(xlsx) {
    unmark(form);
    fill(outcome, h('p', { class: 'status', text: t('list.loading') }));
    const q = { kind: 'STATEMENT_KIND_' + kind.value, org: org.value.trim(), period: period.value, account: account.value.trim() };
    if (xlsx) q.xlsx = 'true';
    let answer;
    try {
      answer = await api('GET', '/v1/statements' + query(q));
    } catch (err) {
      if (!alive) return;
      markRefused(form, err);
      fill(sheet);
      return say(outcome, 'st', 'refused', t('st.refused', { reason: err.reason }));
    }
    if (!alive) return;
    draw(answer.statement || {});
    fill(outcome);
    if (!xlsx) return;
    if (!answer.xlsx) return say(outcome, 'st', 'refused', t('st.noXlsx'));
    const bytes = Uint8Array.from(atob(answer.xlsx), (c) => c.charCodeAt(0));
    download(answer.fileName || 'statement.xlsx', new Blob([bytes], { type: xlsxType }));
    say(outcome, 'st', 'recorded', t('st.saved', { name: answer.fileName || '' }));
  }

  // draw lays the statement out: a ledger's text cells, or an item's code
  // and label indented by its level; amounts in yuan (none on a heading);
  // level 0 in bold.
  function draw(s) {
    const ledger = (s.textColumns || []).length > 0;
    const texts = ledger ? s.textColumns : [t('st.col.code'), t('st.col.label')];
    const amounts = s.amountColumns || [];
    const title = s.title || t('st.title');
    const body = (s.rows || []).map((r) => {
      const level = Number(r.level || 0);
      const cells = ledger ? texts.map((_, i) => h('td', { text: (r.texts || [])[i] || '' }))
        : [h('td', { class: 'mono', text: r.code || '' }), h('td', { class: 'lvl-' + Math.min(level, 4), text: r.label || '' })];
      return h('tr', { class: level === 0 ? 'total' : '', attrs: { 'data-code': r.code || '' } },
        // A heading has no amounts: its cells stay empty, not 0.00.
        cells, amounts.map((_, i) => {
          const a = (r.amountsFen || [])[i];
          return h('td', { class: 'num', text: a === undefined ? '' : yuan(a) });
        }));
    });
    fill(sheet,
      h('h3', { text: title, attrs: { 'data-testid': 'st-title' } }),
      h('p', { class: 'hint', text: t('st.meta', { org: s.org || '', orgs: s.orgs || 1, period: s.period || '' }) }),
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': title } },
        h('table', { class: 'list statement' },
          h('caption', { class: 'sr-only', text: title }),
          h('thead', {}, h('tr', {}, texts.map((c) => h('th', { text: c, attrs: { scope: 'col' } })),
            amounts.map((c) => h('th', { class: 'num', text: c, attrs: { scope: 'col' } })))),
          h('tbody', { attrs: { 'data-testid': 'st-rows' } }, body))));
  }
}
