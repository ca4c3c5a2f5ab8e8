// The shell: sign-in, the header (tier, org, who), the menu built from
// GET /v1/me, the language switch, sign-out, and the hash router that opens
// the pages of pages.js.
import { h, fill } from './dom.js';
import { t, lang, setLang, languages } from './i18n.js';
import { api, hooks, setCSRF, csrf } from './api.js';
import { allowed } from './pages.js';
import { renderSignIn } from './signin.js';

const root = document.getElementById('app');
const node = { tier: document.body.dataset.tier || '', org: document.body.dataset.org || '' };
let me = null;
let cleanup = null;
// shown counts the routes asked for: a page whose module arrives after a
// later route was asked for is not drawn over that route's page.
let shown = 0;

hooks.unauthorized = () => signedOut();
hooks.forbidden = (err) => banner(t('error.forbidden', { reason: err.reason }));

setLang(lang());
window.addEventListener('hashchange', () => me && route());
start();

async function start() {
  try {
    const who = await api('GET', '/v1/me', undefined, { quiet: true });
    // A session without its CSRF token in this tab (a new tab, a cleared
    // store) could read but not write: sign in again.
    if (!csrf()) throw new Error('no CSRF token in this tab');
    signedIn(who);
  } catch {
    signedOut();
  }
}

function signedOut() {
  me = null;
  setCSRF('');
  stopPage();
  document.title = t('app.title');
  renderSignIn(root, { node, langSwitch, onSignedIn: signedIn });
}

function signedIn(who) {
  me = who;
  renderShell();
}

// langSwitch is the button naming the other language.
function langSwitch(rerender) {
  const other = languages.find((l) => l !== lang());
  return h('button', {
    class: 'lang',
    text: t('lang.switch'),
    attrs: { type: 'button', lang: other === 'zh' ? 'zh-CN' : 'en', 'data-testid': 'lang' },
    on: { click: () => { setLang(other); rerender(); } },
  });
}

function tierLabel(tier) {
  return t('tier.' + (tier || 'unknown'));
}

function renderShell() {
  stopPage();
  const acct = me.account || {};
  document.title = t('app.title');
  const items = allowed(me);
  const nav = h('nav', { class: 'menu', attrs: { 'aria-label': t('menu.label') } },
    h('ul', {}, items.map((p) => h('li', {}, h('a', {
      text: t(p.label),
      attrs: { href: '#/' + p.route, 'data-route': p.route },
    })))));
  const header = h('header', { class: 'top' },
    h('div', { class: 'brand', text: t('app.title') }),
    h('div', { class: 'where', attrs: { 'data-testid': 'where' } },
      h('span', { class: 'tier', text: tierLabel(me.tier) }), ' ',
      h('span', { class: 'org', text: me.nodeOrg || '' })),
    h('div', { class: 'who', attrs: { 'data-testid': 'who' } },
      h('span', { class: 'name', text: acct.name || acct.account || '' }), ' ',
      h('span', { class: 'account', text: acct.account ? '(' + acct.account + ')' : '' })),
    langSwitch(renderShell),
    h('button', {
      class: 'signout', text: t('shell.signOut'),
      attrs: { type: 'button', 'data-testid': 'signout' },
      on: { click: signOut },
    }));
  const main = h('main', { class: 'page', attrs: { id: 'page', tabindex: '-1' } });
  fill(root, header, h('div', { class: 'banner hidden', attrs: { id: 'banner', role: 'alert' } }),
    h('div', { class: 'body' }, nav, main));
  route();
}

async function signOut() {
  try {
    await api('POST', '/v1/logout', {}, { quiet: true });
  } catch {
    // Signed out anyway: the page forgets the session either way.
  }
  signedOut();
}

// banner shows a message over the page (a refusal's reason).
function banner(text) {
  const b = document.getElementById('banner');
  if (!b) return;
  b.textContent = text;
  b.classList.remove('hidden');
}

function stopPage() {
  if (cleanup) cleanup();
  cleanup = null;
}

async function route() {
  const items = allowed(me);
  const want = location.hash.replace(/^#\/?/, '').split('?')[0];
  const page = items.find((p) => p.route === want) || (want === '' ? items[0] : null);
  const main = document.getElementById('page');
  if (!main) return;
  stopPage();
  const mine = ++shown;
  const b = document.getElementById('banner');
  if (b) { b.textContent = ''; b.classList.add('hidden'); }
  for (const a of document.querySelectorAll('nav.menu a')) {
    if (a.dataset.route === (page && page.route)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!page) {
    fill(main, h('h1', { text: t('home.title') }),
      h('p', { text: items.length ? t('home.notFound') : t('home.nothing') }));
    main.dataset.route = '';
    return;
  }
  const mod = await page.load();
  if (mine !== shown) return;
  const ctx = { me, t, api };
  const stop = mod.render(main, ctx);
  cleanup = typeof stop === 'function' ? stop : null;
  // Drawn: a language switch draws a new, empty main first, so a script
  // (the browser tests) waits for this before it reads the page.
  main.dataset.route = page.route;
}
