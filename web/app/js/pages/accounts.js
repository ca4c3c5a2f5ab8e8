// The administrator's accounts of the node's scope: the list
// (GET /v1/accounts), creating one with roles and posts (POST /v1/accounts,
// answering a one-time password shown once), granting or revoking a role
// or post, disabling, resetting a password, and an account's tokens
// (GET /v1/tokens?account=..., DELETE /v1/tokens/{id}).
// The sign-in audit is a page of its own (signins.js, GET /v1/signins).
import { h, fill } from '../dom.js';

const roles = ['accountant', 'village_committee', 'supervisory_committee', 'town_reviewer', 'town_admin',
  'district_analyst', 'district_rules_officer', 'auditor', 'admin'];
const split = (s) => s.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean);

export function render(root, { me, t, api }) {
  let alive = true;
  // drafts keeps what is typed in the account's detail (what to grant or
  // revoke, the reason to disable): the detail is drawn again after every
  // action, and text typed while it is must survive that. What an action
  // sent and was not changed since is cleared, as the redraw always did.
  const drafts = new Map();
  const tbody = h('tbody', { attrs: { 'data-testid': 'acct-rows' } });
  const status = h('p', { class: 'status', attrs: { role: 'status', 'data-testid': 'acct-status' } });
  const cols = ['acct.col.account', 'acct.col.name', 'acct.col.org', 'acct.col.roles', 'acct.col.posts', 'acct.col.status', 'acct.col.actions'];
  const table = h('table', { class: 'list' },
    h('caption', { class: 'sr-only', text: t('acct.list') }),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { text: t(c), attrs: { scope: 'col' } })))),
    tbody);

  // Creating an account.
  const field = (name, label, attrs = {}) => h('div', { class: 'field' },
    h('label', { text: t(label), attrs: { for: 'acct-' + name } }),
    h('input', { attrs: { id: 'acct-' + name, name, 'data-field': name, autocomplete: 'off', ...attrs } }));
  const roleBoxes = h('fieldset', { class: 'roles' }, h('legend', { text: t('acct.field.roles') }),
    roles.map((r) => h('label', { class: 'check' },
      h('input', { attrs: { type: 'checkbox', name: 'role', value: r, 'data-testid': 'acct-role-' + r } }), ' ', t('acct.role.' + r))));
  const form = h('form', { class: 'form', attrs: { 'data-testid': 'acct-form' } },
    field('account', 'acct.field.account', { required: true, maxlength: '64' }),
    field('name', 'acct.field.name', { required: true, maxlength: '64' }),
    field('org', 'acct.field.org', { required: true, maxlength: '12', inputmode: 'numeric', value: me.nodeOrg }),
    roleBoxes,
    field('posts', 'acct.field.posts', { maxlength: '400', placeholder: 'village.accountant' }),
    h('button', { text: t('acct.create'), attrs: { type: 'submit', 'data-testid': 'acct-create' } }));
  const outcome = h('div', { attrs: { 'data-testid': 'acct-outcome', 'aria-live': 'polite' } });
  form.addEventListener('submit', (e) => { e.preventDefault(); create(); });

  // One account's details: grant/revoke, disable, reset, tokens.
  const detail = h('section', { class: 'panel hidden', attrs: { 'aria-labelledby': 'acct-detail-title', 'data-testid': 'acct-detail' } });

  fill(root,
    h('h1', { text: t('acct.title') }),
    h('div', { class: 'columns' },
      h('section', { class: 'panel list-panel', attrs: { 'aria-labelledby': 'acct-list-title' } },
        h('h2', { text: t('acct.list'), attrs: { id: 'acct-list-title' } }),
        h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('acct.table') } }, table),
        status),
      h('section', { class: 'panel form-panel', attrs: { 'aria-labelledby': 'acct-form-title' } },
        h('h2', { text: t('acct.new'), attrs: { id: 'acct-form-title' } }), form, outcome)),
    detail,
    h('section', { class: 'panel', attrs: { 'aria-labelledby': 'acct-audit-title' } },
      h('h2', { text: t('acct.signins'), attrs: { id: 'acct-audit-title' } }),
      h('p', { class: 'hint', text: t('acct.signins.none') })));
  load();
  return () => { alive = false; };

  async function load() {
    status.textContent = t('list.loading');
    let answer;
    try {
      answer = await api('GET', '/v1/accounts');
    } catch (err) {
      if (!alive) return;
      status.textContent = t('error.generic', { reason: err.reason });
      return;
    }
    if (!alive) return;
    const list = answer.accounts || [];
    fill(tbody, list.map(row));
    status.textContent = t('acct.count', { n: list.length });
  }

  function row(a) {
    return h('tr', { attrs: { 'data-account': a.account } },
      h('td', { class: 'mono', text: a.account }),
      h('td', { text: a.name }),
      h('td', { class: 'mono', text: a.org }),
      h('td', { text: (a.roles || []).map((r) => t('acct.role.' + r)).join('、') }),
      h('td', { text: (a.posts || []).join(', ') }),
      h('td', { text: a.status === 'disabled' ? t('acct.status.disabled') : t('acct.status.active'), attrs: { 'data-status': a.status || '' } }),
      h('td', {}, h('button', {
        text: t('acct.manage'), class: 'small',
        attrs: { type: 'button', 'data-testid': 'acct-manage', 'aria-label': t('acct.manageOf', { account: a.account }) },
        on: { click: () => { drafts.clear(); showDetail(a.account); } },
      })));
  }

  async function create() {
    const v = (name) => form.elements[name].value.trim();
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const account = {
      account: v('account'), name: v('name'), org: v('org'),
      roles: [...form.querySelectorAll('input[name=role]:checked')].map((c) => c.value),
      posts: split(v('posts')),
    };
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    fill(outcome);
    try {
      const answer = await api('POST', '/v1/accounts', { account });
      if (!alive) return;
      form.reset();
      form.elements.org.value = me.nodeOrg;
      // The list is drawn again first and the outcome said after: the new
      // account is in the list when the message appears.
      await load();
      if (!alive) return;
      // The one-time password is shown here once: it is not kept by the
      // page and the node answers it only now.
      fill(outcome, h('div', { class: 'box recorded', attrs: { 'data-testid': 'acct-created' } },
        h('p', { text: t('acct.created', { account: account.account }) }),
        h('p', {}, t('acct.otp'), ' ', h('code', { class: 'otp', text: answer.oneTimePassword || '', attrs: { 'data-testid': 'acct-otp' } })),
        h('p', { class: 'hint', text: t('acct.otpOnce') })));
    } catch (err) {
      if (!alive) return;
      for (const f of err.fields) {
        const el = form.querySelector(`[data-field="${CSS.escape(f.replace(/^account\./, ''))}"]`);
        if (el) el.setAttribute('aria-invalid', 'true');
      }
      fill(outcome, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'acct-refused' } },
        h('p', { text: t('acct.refused', { reason: err.reason }) })));
    } finally {
      button.disabled = false;
    }
  }

  async function showDetail(id) {
    detail.classList.remove('hidden');
    fill(detail, h('p', { class: 'status', text: t('list.loading') }));
    let a, toks;
    try {
      a = (await api('GET', '/v1/accounts/' + encodeURIComponent(id))).account || {};
      toks = (await api('GET', '/v1/tokens?account=' + encodeURIComponent(id))).tokens || [];
    } catch (err) {
      if (!alive) return;
      fill(detail, h('p', { class: 'status', text: t('error.generic', { reason: err.reason }) }));
      return;
    }
    if (!alive) return;
    const msg = h('div', { attrs: { 'data-testid': 'acct-detail-msg', 'aria-live': 'polite' } });
    const act = async (doing, fn) => {
      fill(msg);
      const typed = new Map(drafts);
      try {
        const answer = await fn();
        if (!alive) return;
        for (const [k, v] of typed) if (drafts.get(k) === v) drafts.delete(k);
        await load();
        await showDetail(id);
        if (answer && answer.oneTimePassword) {
          fill(detail.querySelector('[data-testid="acct-detail-msg"]'), h('div', { class: 'box recorded', attrs: { 'data-testid': 'acct-reset-done' } },
            h('p', {}, t('acct.otp'), ' ', h('code', { class: 'otp', text: answer.oneTimePassword, attrs: { 'data-testid': 'acct-otp' } })),
            h('p', { class: 'hint', text: t('acct.otpOnce') })));
        }
      } catch (err) {
        if (!alive) return;
        fill(msg, h('div', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'acct-action-refused' } },
          h('p', { text: t('acct.actionRefused', { doing: t(doing), reason: err.reason }) })));
      }
    };
    const kindSel = h('select', { attrs: { id: 'acct-grant-kind', 'data-testid': 'acct-grant-kind' } },
      h('option', { text: t('acct.grant.role'), attrs: { value: 'role' } }),
      h('option', { text: t('acct.grant.post'), attrs: { value: 'post' } }));
    const what = h('input', { attrs: { id: 'acct-grant-what', maxlength: '64', autocomplete: 'off', list: 'acct-role-list', 'data-testid': 'acct-grant-what' } });
    const grantBody = () => ({ [kindSel.value]: what.value.trim() });
    const reason = h('input', { attrs: { id: 'acct-disable-reason', maxlength: '200', autocomplete: 'off', 'data-testid': 'acct-disable-reason' } });
    for (const [k, el] of [['what', what], ['reason', reason]]) {
      el.value = drafts.get(k) || '';
      el.addEventListener('input', () => drafts.set(k, el.value));
    }
    const disabled = a.status === 'disabled';
    const tokRows = toks.map((k) => h('tr', { attrs: { 'data-token': k.id } },
      h('td', { class: 'mono', text: k.id }),
      h('td', { text: k.kind }),
      h('td', { text: k.label }),
      h('td', { class: 'mono', text: k.address }),
      h('td', { text: k.createdAt }),
      h('td', { text: k.expiresAt }),
      h('td', {}, h('button', {
        class: 'small', text: t('acct.tok.revoke'),
        attrs: { type: 'button', 'data-testid': 'acct-tok-revoke', 'aria-label': t('acct.tok.revokeOf', { id: k.id }) },
        on: { click: () => act('acct.tok.revoke', () => api('DELETE', '/v1/tokens/' + encodeURIComponent(k.id))) },
      }))));
    fill(detail,
      h('h2', { text: t('acct.detail', { account: a.account, name: a.name || '' }), attrs: { id: 'acct-detail-title' } }),
      h('p', { text: t('acct.detail.status', { status: disabled ? t('acct.status.disabled') : t('acct.status.active'), reason: a.disabledReason || '' }), attrs: { 'data-testid': 'acct-detail-status' } }),
      h('datalist', { attrs: { id: 'acct-role-list' } }, roles.map((r) => h('option', { attrs: { value: r } }))),
      h('div', { class: 'toolbar wrap' },
        h('label', { text: t('acct.grant.kind'), attrs: { for: 'acct-grant-kind' } }), kindSel,
        h('label', { text: t('acct.grant.what'), attrs: { for: 'acct-grant-what' } }), what,
        h('button', { text: t('acct.grant'), attrs: { type: 'button', 'data-testid': 'acct-grant' },
          on: { click: () => act('acct.grant', () => api('POST', '/v1/accounts/' + encodeURIComponent(id) + '/grants', grantBody())) } }),
        h('button', { text: t('acct.revoke'), attrs: { type: 'button', 'data-testid': 'acct-revoke' },
          on: { click: () => act('acct.revoke', () => api('POST', '/v1/accounts/' + encodeURIComponent(id) + '/revocations', grantBody())) } })),
      h('div', { class: 'toolbar wrap' },
        h('label', { text: t('acct.disable.reason'), attrs: { for: 'acct-disable-reason' } }), reason,
        h('button', { text: t('acct.disable'), attrs: { type: 'button', disabled, 'data-testid': 'acct-disable' },
          on: { click: () => act('acct.disable', () => api('POST', '/v1/accounts/' + encodeURIComponent(id) + '/disable', { reason: reason.value.trim() })) } }),
        h('button', { text: t('acct.reset'), attrs: { type: 'button', disabled, 'data-testid': 'acct-reset' },
          on: { click: () => act('acct.reset', () => api('POST', '/v1/accounts/' + encodeURIComponent(id) + '/password-reset', {})) } })),
      msg,
      h('h3', { text: t('acct.tokens') }),
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('acct.tokens') } },
        h('table', { class: 'list', attrs: { 'data-testid': 'acct-tokens' } },
          h('caption', { class: 'sr-only', text: t('acct.tokens') }),
          h('thead', {}, h('tr', {}, ['acct.tok.id', 'acct.tok.kind', 'acct.tok.label', 'acct.tok.address', 'acct.tok.created', 'acct.tok.expires', 'acct.col.actions']
            .map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
          h('tbody', {}, tokRows.length ? tokRows : h('tr', {}, h('td', { text: t('acct.tok.none'), attrs: { colspan: '7' } }))))));
  }
}
