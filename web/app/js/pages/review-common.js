// Helpers of the review pages (village committee, supervisory committee,
// town reviewer): times, ages, the village an entry is about, and a small
// table builder. Values go in as text.
import { h } from '../dom.js';

// when is a timestamp (RFC 3339) as local date and time, or ''.
export function when(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ageDays is the whole days since ts (0 for today or no time).
export function ageDays(ts, now = Date.now()) {
  if (!ts) return 0;
  const ms = now - new Date(ts).getTime();
  return ms > 0 ? Math.floor(ms / 86400000) : 0;
}

// ago words the time since ts: minutes, hours or days.
export function ago(t, ts, now = Date.now()) {
  if (!ts) return t('review.never');
  const s = Math.max(0, Math.round((now - new Date(ts).getTime()) / 1000));
  if (s < 3600) return t('review.ago.min', { n: Math.floor(s / 60) });
  if (s < 86400) return t('review.ago.hour', { n: Math.floor(s / 3600) });
  return t('review.ago.day', { n: Math.floor(s / 86400) });
}

export function yuan(amountFen) {
  const f = Number(amountFen || 0);
  return (f / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// table is a list table with a hidden caption, in a focusable wrapper (a
// table wider than its panel scrolls by keyboard too).
export function table(t, caption, cols, tbody, testid) {
  return h('div', { class: 'table-wrap', attrs: { tabindex: '0', role: 'region', 'aria-label': t('review.table', { name: caption }) } },
    h('table', { class: 'list', attrs: { 'data-testid': testid } },
      h('caption', { class: 'sr-only', text: caption }),
      h('thead', {}, h('tr', {}, cols.map((c) => (c instanceof Node ? c : h('th', { text: t(c), attrs: { scope: 'col' } }))))),
      tbody));
}

// emptyRow is the one row of an empty list.
export function emptyRow(text, span) {
  return h('tr', {}, h('td', { text, attrs: { colspan: span } }));
}
