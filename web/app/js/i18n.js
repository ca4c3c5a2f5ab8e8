// Every label in Chinese (default) and English: one dictionary module per
// language under /app/i18n, the choice kept in localStorage.
import zh from '../i18n/zh.js';
import en from '../i18n/en.js';

const dictionaries = { zh, en };
const storageKey = 'sanzi.lang';

export const languages = ['zh', 'en'];

export function lang() {
  const l = localStorage.getItem(storageKey);
  return dictionaries[l] ? l : 'zh';
}

export function setLang(l) {
  if (!dictionaries[l]) return;
  localStorage.setItem(storageKey, l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

// t is the label of key in the current language, with {name} placeholders
// filled from vars (as text: the caller inserts the result with
// textContent). A key missing from the dictionary shows as itself.
export function t(key, vars = {}) {
  const s = dictionaries[lang()][key] ?? zh[key];
  if (s === undefined) {
    console.warn('i18n: no label', key);
    return key;
  }
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}
