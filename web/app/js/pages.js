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
];

// allowed are the pages the signed-in account may open at this node.
export function allowed(me) {
  const perms = new Set(me.permissions || []);
  return pages.filter((p) => p.tiers.includes(me.tier) && p.needs.every((n) => perms.has(n)));
}
