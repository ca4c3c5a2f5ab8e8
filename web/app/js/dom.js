// Building the page without innerHTML: every value goes in as text.

// h makes an element. props: class, text (textContent), attrs (set with
// setAttribute; never "style"), on (event listeners). Children are nodes or
// strings (strings become text nodes); null and false are skipped.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined && props.text !== null) el.textContent = String(props.text);
  for (const [k, v] of Object.entries(props.attrs || {})) {
    if (k === 'style' || k.startsWith('on')) throw new Error('dom: no inline style or handler attributes');
    if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const [ev, fn] of Object.entries(props.on || {})) el.addEventListener(ev, fn);
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// clear empties an element.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// fill replaces an element's children.
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}
