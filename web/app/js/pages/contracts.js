// The contract register (issue 14, the village accountant): contracts found
// by text (number, counterparty, object, location, summary), status, kind
// and arrears, from GET /v1/contracts, paged by the node; a row opens the
// contract with its payment schedule, what each instalment has received
// (payments counted oldest first) and the arrears, and every payment
// recorded (GET /v1/contracts/{id}).
import { h, fill } from '../dom.js';
import { renderRegister, yuan, yuanNumber, facts, table } from './register-list.js';

const statuses = ['PENDING', 'ACTIVE', 'ENDED', 'REVERSED'];
const kinds = ['LEASE', 'CONTRACTING_OUT'];

function localToday() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// instalments are the schedule in due order with what each has received:
// the unreversed payments' sum, applied to the oldest first.
export function instalments(schedule, paidFen, today) {
  let left = Number(paidFen || 0);
  return [...(schedule || [])]
    .sort((a, b) => String(a.dueDate).localeCompare(String(b.dueDate)))
    .map((s) => {
      const amount = Number(s.amountFen || 0);
      const got = Math.min(amount, left);
      left -= got;
      let state = 'later';
      if (got >= amount) state = 'paid';
      else if (String(s.dueDate) <= today) state = 'overdue';
      else if (got > 0) state = 'partly';
      return { dueDate: s.dueDate, amount, got, state };
    });
}

export function render(root, ctx) {
  const { t, api } = ctx;
  const c = (rec) => rec.contract || {};
  const status = (rec) => t('ct.status.' + String(rec.status || '').replace('CONTRACT_STATUS_', ''));
  return renderRegister(root, ctx, {
    id: 'ct', route: 'contracts', path: '/v1/contracts', field: 'contracts', exportName: t('ct.exportName'),
    title: 'ct.title', list: 'ct.list', table: 'ct.table', detailTitle: 'ct.detail',
    filters: [
      { name: 'query', kind: 'search', label: t('ct.filter.query'), placeholder: t('ct.filter.queryHint') },
      { name: 'status', kind: 'select', label: t('ct.filter.status'), options: statuses.map((s) => ({ value: 'CONTRACT_STATUS_' + s, label: t('ct.status.' + s) })) },
      { name: 'kind', kind: 'select', label: t('ct.filter.kind'), options: kinds.map((k) => ({ value: 'CONTRACT_KIND_' + k, label: t('en.opt.CONTRACT_KIND_' + k) })) },
      { name: 'arrearsOnly', kind: 'check', label: t('ct.filter.arrears') },
    ],
    columns: [
      { label: t('ct.col.number'), get: (r) => c(r).contractNumber || '' },
      { label: t('ct.col.counterparty'), get: (r) => (c(r).counterparty || {}).name || '' },
      { label: t('ct.col.status'), get: status },
      { label: t('ct.col.arrears'), num: true, get: (r) => yuanNumber(r.arrearsFen), show: (r) => yuan(r.arrearsFen) },
      { label: t('ct.col.paid'), num: true, get: (r) => yuanNumber(r.paidFen), show: (r) => yuan(r.paidFen) },
      { label: t('ct.col.annual'), num: true, get: (r) => yuanNumber(c(r).annualAmountFen), show: (r) => yuan(c(r).annualAmountFen) },
      { label: t('ct.col.kind'), get: (r) => (c(r).kind ? t('en.opt.' + c(r).kind) : '') },
      { label: t('ct.col.object'), get: (r) => (c(r).object || {}).objectId || '' },
      { label: t('ct.col.term'), get: (r) => `${c(r).termStart || ''} – ${c(r).termEnd || ''}` },
    ],
    detail: async (holder, id) => {
      const answer = await api('GET', '/v1/contracts/' + encodeURIComponent(id));
      const rec = answer.contract || {};
      const k = rec.contract || {};
      const cp = k.counterparty || {};
      const obj = k.object || {};
      const plan = instalments(k.schedule, rec.paidFen, localToday());
      const pays = answer.payments || [];
      fill(holder,
        facts([
          [t('ct.col.number'), k.contractNumber],
          [t('ct.f.entry'), rec.entry ? rec.entry.id : ''],
          [t('ct.col.status'), status(rec)],
          [t('ct.col.kind'), k.kind ? t('en.opt.' + k.kind) : ''],
          [t('en.f.cpName'), cp.name],
          cp.idNumber && [t('en.f.cpId'), cp.idNumber],
          cp.bankAccount && [t('en.f.cpBank'), cp.bankAccount],
          [t('en.f.objectKind'), obj.kind ? t('en.opt.' + obj.kind) : ''],
          [t('en.f.objectId'), obj.objectId],
          obj.areaMu && [t('en.f.areaMu'), obj.areaMu],
          obj.location && [t('en.f.location'), obj.location],
          [t('ct.col.term'), `${k.termStart || ''} – ${k.termEnd || ''}`],
          [t('en.f.annual'), yuan(k.annualAmountFen)],
          [t('en.f.award'), k.awardMethod ? t('en.opt.' + k.awardMethod) : ''],
          [t('en.f.signedDate'), k.signedDate],
          k.summary && [t('en.f.summary'), k.summary],
          [t('ct.f.due'), yuan(rec.dueFen)],
          [t('ct.col.paid'), yuan(rec.paidFen)],
          [t('ct.col.arrears'), yuan(rec.arrearsFen)],
          rec.reversedBy && [t('ct.f.reversedBy'), rec.reversedBy],
        ], 'ct-facts'),
        h('h3', { text: t('en.schedule') }),
        plan.length
          ? table(t('en.schedule'), [{ label: '#' }, { label: t('en.schedule.due') }, { label: t('en.schedule.amount'), num: true }, { label: t('ct.plan.got'), num: true }, { label: t('ct.plan.state') }],
            plan.map((p, i) => [String(i + 1), p.dueDate, yuan(p.amount), yuan(p.got), t('ct.plan.' + p.state)]),
            'ct-schedule', (i) => ({ 'data-state': plan[i].state, class: plan[i].state === 'overdue' ? 'trouble' : '' }))
          : h('p', { class: 'muted', text: t('ct.plan.none') }),
        h('h3', { text: t('ct.payments') }),
        pays.length
          ? table(t('ct.payments'), [{ label: t('ct.pay.date') }, { label: t('ct.pay.amount'), num: true }, { label: t('tx.col.method') }, { label: t('ct.pay.period') }, { label: t('tx.col.voucher') }, { label: t('tx.col.entry') }],
            pays.map((p) => {
              const m = p.payment || {};
              return [m.businessDate || '', yuan(m.amountFen), m.paymentMethod ? t('tx.method.' + m.paymentMethod.replace('PAYMENT_METHOD_', '')) : '', m.period || '',
                m.voucherNumber || '', h('span', { class: 'mono', text: (p.entry ? p.entry.id : '') + (p.reversedBy ? ' ' + t('ct.pay.reversed', { id: p.reversedBy }) : '') })];
            }),
            'ct-payments', (i) => ({ class: pays[i].reversedBy ? 'reversed' : '' }))
          : h('p', { class: 'muted', text: t('ct.payments.none') }));
      return k.contractNumber || '';
    },
  });
}
