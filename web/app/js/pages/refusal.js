// What the books pages (vouchers.js, months.js, statements.js) share: their
// labelled fields, a refusal of the node shown where the person typed (each
// field its BadRequest names, found by the data-field of its control,
// marked with the node's reason beside it), the failed checks of a
// precondition (a month's blockers) as a list, the outcome box next to a
// form, and the dates the forms start from.
import { h, fill } from '../dom.js';

const pad = (n) => String(n).padStart(2, '0');

// today is the local date YYYY-MM-DD; thisMonth its month YYYY-MM.
export function today(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function thisMonth(d = new Date()) {
  return today(d).slice(0, 7);
}

// field is a labelled control of a books form: its id prefix-name, and
// name the field a refusal of the node names (data-field).
export function field(prefix, name, label, el, cls = 'field') {
  el.id = prefix + '-' + name;
  el.dataset.field = name;
  return h('div', { class: cls }, h('label', { text: label, attrs: { for: el.id } }), el);
}

// unmark takes the marks of an earlier refusal off form.
export function unmark(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  }
  for (const el of form.querySelectorAll('.field-error')) el.remove();
}

// markRefused marks every field of form that err names (the node's names,
// "voucher.lines[1].account"), the reason written after the control; it
// returns how many of them the form holds.
export function markRefused(form, err) {
  unmark(form);
  let found = 0;
  for (const d of err.details || []) {
    for (const fv of d.fieldViolations || []) {
      const el = form.querySelector(`[data-field="${CSS.escape(String(fv.field || ''))}"]`);
      if (!el) continue;
      found++;
      const id = (el.id || 'field') + '-error';
      // A group (the voucher's lines) takes the reason beside it; only a
      // control is itself marked invalid.
      if (el.matches('input, select, textarea')) {
        el.setAttribute('aria-invalid', 'true');
        el.setAttribute('aria-describedby', id);
      }
      el.after(h('p', { class: 'field-error', text: fv.description || err.reason, attrs: { id, 'data-testid': 'field-error', 'data-for': fv.field } }));
    }
  }
  return found;
}

// checksFailed are the descriptions of a precondition failure's violations
// (each reason a month cannot close), as a list, or null.
export function checksFailed(err) {
  const items = [];
  for (const d of err.details || []) {
    for (const v of d.violations || []) items.push(h('li', { text: v.description || v.subject }));
  }
  return items.length ? h('ul', { class: 'hits', attrs: { 'data-testid': 'checks-failed' } }, items) : null;
}

// say puts an outcome in box: kind recorded or refused (test id prefix-kind),
// its message, and what follows it (a list, the entry's id as data-entry).
export function say(box, prefix, kind, message, more = {}) {
  fill(box, h('div', {
    class: 'box ' + kind,
    attrs: { role: kind === 'refused' ? 'alert' : 'status', 'data-testid': prefix + '-' + kind, 'data-entry': more.entry || null },
  }, h('p', { text: message }), more.list || null));
}
