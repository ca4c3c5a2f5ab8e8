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
];

// allowed are the pages the signed-in account may open at this node.
export function allowed(me) {
  const perms = new Set(me.permissions || []);
  return pages.filter((p) => p.tiers.includes(me.tier) && p.needs.every((n) => perms.has(n)));
}
