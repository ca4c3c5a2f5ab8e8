// The asset register (issue 14, the village accountant): assets found by
// text (code, name, category, location), status and category, from GET
// /v1/assets, paged by the node; a row opens the asset with every
// appraisal and its disposal (GET /v1/assets/{id}).
import { h, fill } from '../dom.js';
import { renderRegister, yuan, yuanNumber, facts, table } from './register-list.js';

const statuses = ['HELD', 'DISPOSED', 'REVERSED'];
// categories are the usual ones of a village's register (the category is
// free text: the search finds any other).
const categories = ['房屋建筑物', '机器设备', '农业设施', '交通运输工具', '办公设备'];

export function render(root, ctx) {
  const { t, api } = ctx;
  const a = (rec) => rec.asset || {};
  const status = (rec) => t('as.status.' + String(rec.status || '').replace('ASSET_STATUS_', ''));
  return renderRegister(root, ctx, {
    id: 'as', route: 'assets', path: '/v1/assets', field: 'assets', exportName: t('as.exportName'),
    title: 'as.title', list: 'as.list', table: 'as.table', detailTitle: 'as.detail',
    filters: [
      { name: 'query', kind: 'search', label: t('as.filter.query'), placeholder: t('as.filter.queryHint') },
      { name: 'status', kind: 'select', label: t('as.filter.status'), options: statuses.map((s) => ({ value: 'ASSET_STATUS_' + s, label: t('as.status.' + s) })) },
      { name: 'category', kind: 'select', label: t('as.filter.category'), options: categories.map((c) => ({ value: c, label: c })) },
    ],
    columns: [
      { label: t('en.f.assetCode'), get: (r) => a(r).assetCode || '' },
      { label: t('en.f.name'), get: (r) => a(r).name || '' },
      { label: t('as.col.status'), get: status },
      { label: t('as.col.appraised'), num: true, get: (r) => (r.appraisedValueFen ? yuanNumber(r.appraisedValueFen) : ''), show: (r) => (r.appraisedValueFen ? yuan(r.appraisedValueFen) : '') },
      { label: t('en.f.originalValue'), num: true, get: (r) => yuanNumber(a(r).originalValueFen), show: (r) => yuan(a(r).originalValueFen) },
      { label: t('en.f.category'), get: (r) => a(r).category || '' },
      { label: t('en.f.acquiredDate'), get: (r) => a(r).acquiredDate || '' },
      { label: t('en.f.location'), get: (r) => a(r).location || '' },
    ],
    detail: async (holder, id) => {
      const answer = await api('GET', '/v1/assets/' + encodeURIComponent(id));
      const rec = answer.asset || {};
      const reg = rec.asset || {};
      const apps = answer.appraisals || [];
      const disp = answer.disposal;
      const d = (disp && disp.disposal) || {};
      const cp = d.counterparty || {};
      fill(holder,
        facts([
          [t('en.f.assetCode'), reg.assetCode],
          [t('as.f.entry'), rec.entry ? rec.entry.id : ''],
          [t('as.col.status'), status(rec)],
          [t('en.f.name'), reg.name],
          [t('en.f.category'), reg.category],
          [t('en.f.originalValue'), yuan(reg.originalValueFen)],
          [t('en.f.acquiredDate'), reg.acquiredDate],
          reg.location && [t('en.f.location'), reg.location],
          [t('as.col.appraised'), rec.appraisedValueFen ? yuan(rec.appraisedValueFen) : t('as.never')],
          rec.reversedBy && [t('ct.f.reversedBy'), rec.reversedBy],
        ], 'as-facts'),
        h('h3', { text: t('as.appraisals') }),
        apps.length
          ? table(t('as.appraisals'), [{ label: t('en.f.appraisalDate') }, { label: t('en.f.appraisedValue'), num: true }, { label: t('en.f.appraiser') }, { label: t('as.report') }, { label: t('tx.col.entry') }],
            apps.map((p) => {
              const m = p.appraisal || {};
              return [m.appraisalDate || '', yuan(m.appraisedValueFen), m.appraiser || '',
                h('span', { class: 'mono', text: String(m.reportAttachment || '').slice(0, 12), attrs: { title: m.reportAttachment || '' } }),
                h('span', { class: 'mono', text: (p.entry ? p.entry.id : '') + (p.reversedBy ? ' ' + t('ct.pay.reversed', { id: p.reversedBy }) : '') })];
            }),
            'as-appraisals', (i) => ({ class: apps[i].reversedBy ? 'reversed' : '' }))
          : h('p', { class: 'muted', text: t('as.appraisals.none') }),
        h('h3', { text: t('as.disposal') }),
        disp
          ? facts([
            [t('en.f.method'), d.method ? t('en.opt.' + d.method) : ''],
            [t('en.f.price'), yuan(d.priceFen)],
            cp.name && [t('en.f.cpName'), cp.name],
            cp.idNumber && [t('en.f.cpId'), cp.idNumber],
            [t('en.f.disposalDate'), d.disposalDate],
            d.reason && [t('en.f.reason'), d.reason],
            [t('tx.col.entry'), disp.entry ? disp.entry.id : ''],
            disp.reversedBy && [t('ct.f.reversedBy'), disp.reversedBy],
          ], 'as-disposal')
          : h('p', { class: 'muted', text: t('as.disposal.none') }));
      return reg.assetCode || '';
    },
  });
}
