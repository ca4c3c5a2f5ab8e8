// Package town is the town's room (DESIGN.md, "Shape"): what a town node
// does beyond its own books, and the village's side of it.
//
//   - The inbox its villages push to (Inbox): each batch checked against
//     the pusher's certificate (pki.May), verified, stored verbatim, then
//     acked; a fork or an entry that does not verify is told to the
//     caller, who records it as a TAMPER alert.
//   - Its supervision across its villages (Town, a supervise.Tier): the
//     villages' procedures as they arrive, the cross-village rules (a payee
//     split across villages, an invoice claimed in two, a cadre's relative
//     paid by another village), and its decisions on its villages' town
//     steps and alert reviews, recorded in its own chain.
//   - The village's side of those decisions (Village, a supervise.Tier): it
//     applies each in its own chain, or records why it could not.
//
// For picks the tier by the idcode.Level the node runs at.
package town

import (
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// For is the supervision tier of a node at level over b (whose first org is
// the node's own, and whose rules are set): a town's Town, a village's
// Village (of the town its code names), nil (supervise.None) elsewhere.
// cat and cal are the catalog and calendar supervision starts with.
func For(level idcode.Level, b *books.Books, cat *sanziv1.Catalog, cal *calendar.Calendar) (supervise.Tier, error) {
	switch level {
	case idcode.LevelTown:
		t, err := New(b, cat, cal)
		if err != nil {
			return nil, err
		}
		return t, nil
	case idcode.LevelVillage:
		return NewVillage(b, b.HomeOrg()[:9]+"000"), nil
	}
	return nil, nil
}
