// The rules officer's backtest (issue 14, helper console-gov): a rule set
// of the district's chain, or the JSON being drafted, run over the history
// the district holds (POST /v1/rules/backtest), every village's chain as
// its node would have checked it; the answer lists every rule of the set
// with its hits, those reversed anyway, the chains it fired in and the
// first entries. The run is bounded by the node (entries, seconds) and
// says when it stopped early. rules.js places the panel.
import { h, fill } from '../dom.js';

// backtestPanel returns { el, setVersions(sets, live) }. draftJSON gives
// the JSON of the draft form (for "backtest the JSON"), or null.
export function backtestPanel({ t, api, draftJSON }) {
  const sel = h('select', { attrs: { id: 'rules-bt-version', 'data-testid': 'rules-bt-version' } });
  const out = h('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'rules-bt' } });
  const run = h('button', { class: 'primary', text: t('rules.bt.run'), attrs: { type: 'button', 'data-testid': 'rules-bt-run' } });
  const runJSON = draftJSON ? h('button', { text: t('rules.bt.runJSON'), attrs: { type: 'button', 'data-testid': 'rules-bt-run-json' } }) : null;
  run.addEventListener('click', () => go({ version: sel.value }));
  if (runJSON) runJSON.addEventListener('click', () => go({ rulesJson: draftJSON() }));
  const el = h('section', { class: 'panel', attrs: { 'aria-labelledby': 'rules-bt-title' } },
    h('h2', { text: t('rules.bt.title'), attrs: { id: 'rules-bt-title' } }),
    h('p', { class: 'hint', text: t('rules.bt.hint') }),
    h('div', { class: 'toolbar wrap' },
      h('label', { text: t('rules.bt.version'), attrs: { for: 'rules-bt-version' } }), sel, run, runJSON),
    out);
  let busy = false;

  function setVersions(sets, live) {
    const keep = sel.value;
    fill(sel, sets.slice().reverse().map((s) => h('option', { text: s.version + ' · ' + t('rules.status.' + s.status), attrs: { value: s.version } })));
    const drafts = sets.filter((s) => s.status === 'draft');
    sel.value = keep && sets.some((s) => s.version === keep) ? keep : ((drafts[drafts.length - 1] || {}).version || live || '');
  }

  async function go(body) {
    if (busy) return;
    if (body.rulesJson !== undefined) {
      try {
        JSON.parse(body.rulesJson);
      } catch (e) {
        fill(out, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'rules-bt-refused' }, text: t('rules.badJSON', { reason: e.message }) }));
        return;
      }
    } else if (!body.version) {
      fill(out, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'rules-bt-refused' }, text: t('rules.bt.pick') }));
      return;
    }
    busy = true;
    run.disabled = true;
    if (runJSON) runJSON.disabled = true;
    fill(out, h('p', { class: 'status', attrs: { role: 'status' }, text: t('rules.bt.running') }));
    try {
      show(await api('POST', '/v1/rules/backtest', body, { quiet: true }));
    } catch (err) {
      fill(out, h('p', { class: 'box refused', attrs: { role: 'alert', 'data-testid': 'rules-bt-refused' }, text: t('rules.refused', { reason: err.reason || err.message }) }));
    } finally {
      busy = false;
      run.disabled = false;
      if (runJSON) runJSON.disabled = false;
    }
  }

  function show(r) {
    const results = (r.results || []).slice().sort((a, b) => Number(b.hits) - Number(a.hits) || a.code.localeCompare(b.code));
    const fired = results.filter((x) => Number(x.hits) > 0).length;
    const summary = t('rules.bt.summary', {
      version: r.ruleSetVersion, read: r.entriesRead, checked: r.entriesChecked,
      chains: r.chainsRead, total: r.chainsTotal, fired, rules: results.length,
    });
    const stopped = r.stopped
      ? h('p', { class: 'box warned', attrs: { 'data-testid': 'rules-bt-stopped' },
        text: t('rules.bt.stopped.' + r.stopped, { entries: r.maxEntries, seconds: r.maxSeconds }) })
      : null;
    const cols = ['rules.col.code', 'rules.bt.col.name', 'rules.bt.col.severity', 'rules.bt.col.action', 'rules.bt.col.hits',
      'rules.bt.col.reversed', 'rules.bt.col.chains', 'rules.bt.col.examples'];
    fill(out,
      h('p', { class: 'status', attrs: { 'data-testid': 'rules-bt-summary' }, text: summary }),
      stopped,
      h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('rules.bt.results') } },
        h('table', { class: 'list' },
          h('caption', { class: 'sr-only', text: t('rules.bt.results') }),
          h('thead', {}, h('tr', {}, cols.map((k) => h('th', { text: t(k), attrs: { scope: 'col' } })))),
          h('tbody', { attrs: { 'data-testid': 'rules-bt-rows' } }, results.map((x) => h('tr', { attrs: { 'data-code': x.code } },
            h('td', { class: 'mono', text: x.code }),
            h('td', { text: x.name }),
            h('td', {}, h('span', { class: 'sev sev-' + x.severity, text: t('sev.' + x.severity) })),
            h('td', { text: t('rules.bt.action.' + x.action) }),
            h('td', { class: 'num', text: String(x.hits) }),
            h('td', { class: 'num', text: String(x.reversed) }),
            h('td', { class: 'num', text: String(x.chains) }),
            h('td', { class: 'mono', text: (x.examples || []).join(' ') })))))));
  }

  return { el, setVersions };
}
