// The sign-in page: account and password; when the node answers that the
// password is a one-time password (400 naming newPassword), the same form
// asks for a new one (twice) and signs in with it.
import { h, fill } from './dom.js';
import { t } from './i18n.js';
import { api, setCSRF } from './api.js';

export function renderSignIn(root, { node, langSwitch, onSignedIn }) {
  let needNew = false;
  let keep = { account: '', password: '' };
  draw();

  function draw(message) {
    document.title = t('signin.title') + ' · ' + t('app.title');
    const field = (id, label, type, autocomplete) => h('div', { class: 'field' },
      h('label', { text: label, attrs: { for: id } }),
      h('input', { attrs: { id, name: id, type, autocomplete, required: true } }));
    const form = h('form', { class: 'signin', attrs: { 'aria-labelledby': 'signin-title', novalidate: true } },
      h('h1', { text: t('signin.title'), attrs: { id: 'signin-title' } }),
      h('p', { class: 'node', attrs: { 'data-testid': 'node' } },
        t('tier.' + (node.tier || 'unknown')), ' ', node.org),
      field('account', t('signin.account'), 'text', 'username'),
      field('password', t('signin.password'), 'password', 'current-password'),
      needNew && h('p', { class: 'note', text: t('signin.mustChange') }),
      needNew && field('newPassword', t('signin.newPassword'), 'password', 'new-password'),
      needNew && field('confirm', t('signin.confirm'), 'password', 'new-password'),
      h('p', { class: 'error', attrs: { id: 'signin-error', role: 'alert', 'data-testid': 'signin-error' }, text: message || '' }),
      h('button', { class: 'primary', text: t('signin.submit'), attrs: { type: 'submit' } }));
    // Typed values survive a redraw as properties, never as attributes.
    form.elements.account.value = keep.account;
    form.elements.password.value = keep.password;
    form.addEventListener('submit', (e) => { e.preventDefault(); submit(form); });
    fill(root, h('div', { class: 'signin-page' },
      h('div', { class: 'signin-top' }, h('span', { class: 'brand', text: t('app.title') }), langSwitch(() => draw())),
      h('main', {}, form)));
    const first = form.querySelector(needNew ? '#newPassword' : 'input');
    if (first) first.focus();
  }

  async function submit(form) {
    const v = (name) => (form.elements[name] ? form.elements[name].value : '');
    keep = { account: v('account').trim(), password: v('password') };
    if (!keep.account || !keep.password) return draw(t('signin.missing'));
    const body = { account: keep.account, password: keep.password, kind: 'session' };
    if (needNew) {
      if (v('newPassword') !== v('confirm')) return draw(t('signin.mismatch'));
      body.newPassword = v('newPassword');
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const answer = await api('POST', '/v1/login', body, { quiet: true });
      setCSRF(answer.csrf);
      const who = await api('GET', '/v1/me', undefined, { quiet: true });
      onSignedIn(who);
    } catch (err) {
      button.disabled = false;
      if (err.status === 400 && err.fields.includes('newPassword')) {
        const first = !needNew;
        needNew = true;
        return draw(first ? '' : t('signin.badNew', { reason: err.reason }));
      }
      if (err.status === 401) return draw(t('signin.wrong'));
      if (err.status === 429) return draw(t('signin.throttled', { seconds: err.retryAfter || '?' }));
      draw(t('error.generic', { reason: err.reason }));
    }
  }
}
