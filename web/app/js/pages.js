// The console's pages: one entry per page, in menu order. A page shows in
// the menu (and its route opens) only on the tiers it lists and for an
// account holding every permission it needs (GET /v1/me); the node still
// checks each call. To add a page: a module under pages/ exporting
// render(root, ctx), an entry here, and its labels in both dictionaries.
export const pages = [
  {
    route: 'transactions',
    label: 'menu.transactions',
    tiers: ['village'],
    needs: ['read', 'record'],
    load: () => import('./pages/transactions.js'),
  },
  // Pages of helper "audit": the auditor's entry trail and chain check,
  // the administrator's accounts.
  {
    route: 'trail',
    label: 'menu.trail',
    tiers: ['village', 'town'],
    needs: ['verify'],
    load: () => import('./pages/trail.js'),
  },
  {
    route: 'accounts',
    label: 'menu.accounts',
    tiers: ['village', 'town'],
    needs: ['manage_accounts'],
    load: () => import('./pages/accounts.js'),
  },
  // The committees' main page at the village (their first page: the
  // accountant, who holds no review_alerts, does not see it; helper
  // console-gov).
  { route: 'committee', label: 'menu.committee', tiers: ['village'], needs: ['read', 'decide_step', 'review_alerts'], load: () => import('./pages/committee.js') },
  // The administrator's sign-in audit, on every tier (helper console-gov).
  { route: 'signins', label: 'menu.signins', tiers: ['village', 'town', 'district'], needs: ['manage_accounts'], load: () => import('./pages/signins.js') },
  // Village committee, supervisory committee and town reviewer (helper
  // "town"): steps to decide, the alert queue, cards; at a town also the
  // directives received and its villages' sync.
  { route: 'review/steps', label: 'menu.review.steps', tiers: ['village', 'town'], needs: ['read', 'decide_step'], load: () => import('./pages/review-steps.js') },
  { route: 'review/alerts', label: 'menu.review.alerts', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/review-alerts.js') },
  { route: 'review/cards', label: 'menu.review.cards', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/review-cards.js') },
  { route: 'town/directives', label: 'menu.town.directives', tiers: ['town'], needs: ['read'], load: () => import('./pages/town-directives.js') },
  // The villagers' complaints sent down to the town (issue 15).
  { route: 'town/complaints', label: 'menu.town.complaints', tiers: ['town'], needs: ['read'], load: () => import('./pages/town-complaints.js') },
  { route: 'town/sync', label: 'menu.town.sync', tiers: ['town'], needs: ['read'], load: () => import('./pages/town-sync.js') },
  // Village accountant (issue 14 part 2): the inbox of procedure steps;
  // contracts, assets and reversals.
  {
    route: 'inbox',
    label: 'menu.inbox',
    tiers: ['village'],
    needs: ['read', 'decide_step'],
    load: () => import('./pages/inbox.js'),
  },
  {
    route: 'entries',
    label: 'menu.entries',
    tiers: ['village'],
    needs: ['read', 'record'],
    load: () => import('./pages/entries.js'),
  },
  // Village accountant (issue 14, helper console-acct): the contract and
  // asset registers (read at a town too, over its villages) and the import
  // of a sheet.
  { route: 'contracts', label: 'menu.contracts', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/contracts.js') },
  { route: 'assets', label: 'menu.assets', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/assets.js') },
  { route: 'import', label: 'menu.import', tiers: ['village'], needs: ['read', 'record'], load: () => import('./pages/import.js') },
  // The collective's books (issue 19, helper console): the accountant's
  // vouchers and month-end close; the statements for every account that
  // reads, at a town summed over its villages.
  { route: 'vouchers', label: 'menu.vouchers', tiers: ['village'], needs: ['read', 'record'], load: () => import('./pages/vouchers.js') },
  { route: 'months', label: 'menu.months', tiers: ['village'], needs: ['read', 'record'], load: () => import('./pages/months.js') },
  { route: 'statements', label: 'menu.statements', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/statements.js') },
  // The district cockpit and the rules officer's page (helper cockpit).
  {
    route: 'cockpit',
    label: 'menu.cockpit',
    tiers: ['district'],
    needs: ['read_stats'],
    load: () => import('./pages/cockpit.js'),
  },
  {
    route: 'rules',
    label: 'menu.rules',
    tiers: ['district'],
    needs: ['read', 'draft_rules'],
    load: () => import('./pages/rules.js'),
  },
  // The monthly disclosure, at a village and at its town (last in the
  // menu: no role's first page), and the rules officer's catalog versions
  // and the directives the district issued (helper console-gov).
  { route: 'disclosure', label: 'menu.disclosure', tiers: ['village', 'town'], needs: ['read'], load: () => import('./pages/disclosure.js') },
  { route: 'catalogs', label: 'menu.catalogs', tiers: ['district'], needs: ['read', 'draft_rules'], load: () => import('./pages/catalogs.js') },
  { route: 'district/directives', label: 'menu.district.directives', tiers: ['district'], needs: ['read', 'draft_rules'], load: () => import('./pages/district-directives.js') },
];

// allowed are the pages the signed-in account may open at this node.
export function allowed(me) {
  const perms = new Set(me.permissions || []);
  return pages.filter((p) => p.tiers.includes(me.tier) && p.needs.every((n) => perms.has(n)));
}
