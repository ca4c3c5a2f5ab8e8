// Exports of the console's tables: CSV and XLSX made in the page from the
// rows it has, downloaded as a file. Every table that exports CSV offers
// XLSX too (exportButtons). Text a person typed is never written so that a
// spreadsheet runs it: CSV prefixes a value starting with = + - @ (or a tab
// or carriage return) with ', and XLSX writes text only as inline strings,
// which a spreadsheet shows and never evaluates; only numbers the program
// computed (typeof 'number') become number cells.
import { h } from './dom.js';

// csvCell escapes one value for CSV, and against formula injection: a
// value starting with = + - @ (or a tab or carriage return) is prefixed
// with ' so that a spreadsheet shows it as text.
export function csvCell(v) {
  let s = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return '"' + s.replace(/"/g, '""') + '"';
}

// csv is the rows (arrays of values) as CSV text with a header line.
export function csv(header, rows) {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

// csvBlob is CSV text as a file Excel opens as UTF-8 (with the BOM).
export function csvBlob(text) {
  return new Blob(['\ufeff' + text], { type: 'text/csv;charset=utf-8' });
}

// download saves blob as a file named name.
export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { attrs: { href: url, download: name } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// xmlText escapes s for XML and drops what XML 1.0 cannot hold (control
// characters, lone surrogates), which a cell must never carry.
function xmlText(s) {
  return String(s)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// colName is a column's letters: 0 → A, 26 → AA.
function colName(i) {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

// cell is one <c>: a finite number as a number, anything else as an inline
// string (never a formula, whatever it starts with).
function cell(v, ref, style) {
  const s = style ? ` s="${style}"` : '';
  if (typeof v === 'number' && Number.isFinite(v)) return `<c r="${ref}"${s}><v>${v}</v></c>`;
  const text = v === undefined || v === null ? '' : String(v);
  return `<c r="${ref}" t="inlineStr"${s}><is><t xml:space="preserve">${xmlText(text)}</t></is></c>`;
}

const ns = 'http://schemas.openxmlformats.org';
const xmlHead = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';

// xlsx is a workbook of one sheet (name: at most 31 characters, none of
// []:*?/\) with the header in bold and the rows below, as an XLSX blob: the
// smallest set of parts Excel, LibreOffice and WPS open.
export function xlsx(sheetName, header, rows) {
  const name = xmlText(String(sheetName || 'Sheet1').replace(/[[\]:*?/\\]/g, ' ').slice(0, 31) || 'Sheet1');
  const lines = [header, ...rows].map((r, i) =>
    `<row r="${i + 1}">${r.map((v, j) => cell(v, colName(j) + (i + 1), i === 0 ? 1 : 0)).join('')}</row>`);
  const parts = [
    ['[Content_Types].xml', xmlHead + `<Types xmlns="${ns}/package/2006/content-types">` +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
      '<Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
      '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
      '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
      '</Types>'],
    ['_rels/.rels', xmlHead + `<Relationships xmlns="${ns}/package/2006/relationships">` +
      `<Relationship Id="rId1" Type="${ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
      '</Relationships>'],
    ['xl/workbook.xml', xmlHead + `<workbook xmlns="${ns}/spreadsheetml/2006/main" xmlns:r="${ns}/officeDocument/2006/relationships">` +
      `<sheets><sheet name="${name}" sheetId="1" r:id="rId1"/></sheets></workbook>`],
    ['xl/_rels/workbook.xml.rels', xmlHead + `<Relationships xmlns="${ns}/package/2006/relationships">` +
      `<Relationship Id="rId1" Type="${ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>` +
      `<Relationship Id="rId2" Type="${ns}/officeDocument/2006/relationships/styles" Target="styles.xml"/>` +
      '</Relationships>'],
    ['xl/styles.xml', xmlHead + `<styleSheet xmlns="${ns}/spreadsheetml/2006/main">` +
      '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>' +
      '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
      '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
      '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
      '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
      '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>' +
      '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
      '</styleSheet>'],
    ['xl/worksheets/sheet1.xml', xmlHead + `<worksheet xmlns="${ns}/spreadsheetml/2006/main"><sheetData>` +
      lines.join('') + '</sheetData></worksheet>'],
  ];
  return new Blob([zip(parts)], { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
}

// crcTable is CRC-32's (IEEE) table, made once.
const crcTable = (() => {
  const tbl = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
    tbl[n] = c >>> 0;
  }
  return tbl;
})();

function crc32(bytes) {
  let c = 0xFFFFFFFF;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xFF] ^ (c >>> 8);
  return (c ^ 0xFFFFFFFF) >>> 0;
}

// zip packs [name, text] parts, stored (no compression: a table of a few
// thousand rows stays small, and the code stays short), UTF-8 names, as
// one Uint8Array.
function zip(parts) {
  const enc = new TextEncoder();
  const files = parts.map(([name, text]) => {
    const data = enc.encode(text);
    return { name: enc.encode(name), data, crc: crc32(data) };
  });
  const size = files.reduce((n, f) => n + 30 + f.name.length + f.data.length + 46 + f.name.length, 22);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  let at = 0;
  const u16 = (x) => { v.setUint16(at, x, true); at += 2; };
  const u32 = (x) => { v.setUint32(at, x, true); at += 4; };
  const common = (f) => { u16(20); u16(0x0800); u16(0); u16(0); u16(0x21); u32(f.crc); u32(f.data.length); u32(f.data.length); u16(f.name.length); u16(0); };
  for (const f of files) {
    f.offset = at;
    u32(0x04034B50); common(f);
    out.set(f.name, at); at += f.name.length;
    out.set(f.data, at); at += f.data.length;
  }
  const dir = at;
  for (const f of files) {
    u32(0x02014B50); u16(20); common(f);
    u16(0); u16(0); u16(0); u32(0); u32(f.offset);
    out.set(f.name, at); at += f.name.length;
  }
  const dirSize = at - dir;
  u32(0x06054B50); u16(0); u16(0); u16(files.length); u16(files.length); u32(dirSize); u32(dir); u16(0);
  return out;
}

// exportButtons are the CSV and XLSX buttons of a table (data-testid
// id-csv and id-xlsx). table() gives {header, rows} when a button is
// pressed, or a promise of them (to fetch every page first; it shows its
// own failure and gives null); a table at hand is saved within the click.
// name is the file's name without extension.
export function exportButtons(t, id, name, table) {
  const save = (kind, tbl) => {
    if (!tbl) return;
    const { header, rows } = tbl;
    if (kind === 'csv') download(name + '.csv', csvBlob(csv(header, rows)));
    else download(name + '.xlsx', xlsx(name, header, rows));
  };
  return ['csv', 'xlsx'].map((kind) => {
    const btn = h('button', { text: t('export.' + kind), attrs: { type: 'button', 'data-testid': id + '-' + kind } });
    btn.addEventListener('click', () => {
      const got = table();
      if (!got || typeof got.then !== 'function') return save(kind, got);
      btn.disabled = true;
      got.then((tbl) => save(kind, tbl)).finally(() => { btn.disabled = false; });
    });
    return btn;
  });
}
