package town

import (
	"errors"
	"testing"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestCatalogPublishedByTwo: the town uses for its villages' procedures
// only a catalog the district published as two accounts, whatever it is
// handed.
func TestCatalogPublishedByTwo(t *testing.T) {
	const district = "350505000000"
	pub := func(drafter, publisher string) *sanziv1.Catalog {
		c := catalog.Default("350505")
		c.Version, c.State, c.DraftedBy, c.PublishedBy = "2026-12", sanziv1.CatalogState_CATALOG_STATE_PUBLISHED, drafter, publisher
		return c
	}
	one := catalog.Default("350505")
	one.Version = "2026-12"
	cases := []struct {
		name         string
		origin       string
		author       string
		cat          *sanziv1.Catalog
		wantOK       bool
		wantFourEyes bool
		wantOneEntry bool
	}{
		{"drafted and published by two", district, "乙", pub("甲", "乙"), true, false, false},
		{"published by its drafter", district, "甲", pub("甲", "甲"), false, true, false},
		{"no drafter named", district, "乙", pub("", "乙"), false, true, false},
		{"written in one entry", district, "甲", one, false, false, true},
		{"publisher not the entry's author", district, "甲", pub("丙", "乙"), false, false, false},
		{"in a village's chain", "350505100201", "乙", pub("甲", "乙"), false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := publishedByTwo(&ledger.Stored{Origin: tc.origin, Author: tc.author}, tc.cat)
			switch {
			case tc.wantOK != (err == nil):
				t.Fatalf("err %v, want ok %t", err, tc.wantOK)
			case tc.wantFourEyes != errors.Is(err, entries.ErrFourEyes):
				t.Fatalf("err %v, want four eyes %t", err, tc.wantFourEyes)
			case tc.wantOneEntry != errors.Is(err, catalog.ErrOneEntry):
				t.Fatalf("err %v, want one entry %t", err, tc.wantOneEntry)
			}
		})
	}
}
