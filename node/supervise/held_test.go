package supervise_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/supervise"
)

// TestFollowingWhatTheInboxHeldMatchesReadingBack: a town whose
// supervision follows its villages' entries as its inbox stored them
// (Held), reading back from the ledger only those it was not handed, ends
// in the state, at the chain positions and with the cross-village alerts
// (DUP-INVOICE, SPLIT) of a town that stored the same batches in the same
// order and read every entry back from the ledger, as towns did before.
// Batches are handed over whole, not at all, only their second half, and
// after the town followed them already. (The reference is a town that
// follows, not a replay: a replay takes each village's chain whole in
// turn, and the town's view across villages depends on the order it saw
// them in.)
func TestFollowingWhatTheInboxHeldMatchesReadingBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{townOrg, villageA, villageB}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func(sub, org string) node {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			t.Fatal(err)
		}
		n, _ := openOrgBooks(t, filepath.Join(dir, sub), keysDir, orgs, []string{org}, clock, nil, false)
		return n
	}
	held, read := open("town-held", townOrg), open("town-read", townOrg)
	villages := map[string]node{villageA: open(villageA, villageA), villageB: open(villageB, villageB)}

	// store appends what town lacks of origin's chain, as the inbox does,
	// hands it over as mode says, and has the town follow it.
	store := func(town node, origin string, mode int) {
		t.Helper()
		var recs []ledger.Record
		err := villages[origin].Ledger().Range(origin, town.Ledger().Head(origin).Seq+1, 0, func(s *ledger.Stored) bool {
			recs = append(recs, ledger.Record{Raw: s.Raw})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := town.Ledger().Append(ctx, recs...)
		if err != nil {
			t.Fatal(err)
		}
		switch mode {
		case 0: // handed over whole
			town.Held(stored)
		case 1: // not handed over: read back from the ledger
		case 2: // only the second half
			town.Held(stored[len(stored)/2:])
		}
		if err := town.Follow(ctx); err != nil {
			t.Fatal(err)
		}
		if mode == 3 { // handed over after the town followed them
			town.Held(stored)
		}
	}
	for round := range 8 {
		for vi, origin := range []string{villageA, villageB} {
			for i := range 6 {
				// The same invoices in both villages, and two suppliers
				// paid the same amount again and again.
				tx := plainExpense(1_500_000, fmt.Sprintf("%08d", (round*6+i)%7))
				tx.Org = origin
				tx.Counterparty.Name = fmt.Sprintf("福州某建材有限公司%d", i%2)
				tx.Counterparty.BankAccount = fmt.Sprintf("622202020011223344%d", i%2)
				if _, _, err := villages[origin].RecordTransaction(ctx, "会计", tx); err != nil {
					t.Fatal(err)
				}
			}
			store(held, origin, (round+vi)%4)
			store(read, origin, 1)
		}
	}
	alerts := func(b *books.Books, code string) int64 {
		_, _, total, err := b.ListAlerts(books.AlertFilter{Org: townOrg, RuleCode: code}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	got, gotSeen, err := supervise.StateOf(held.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	want, wantSeen, err := supervise.StateOf(read.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	split, dup := alerts(read.Books, "SPLIT"), alerts(read.Books, "DUP-INVOICE")
	if split == 0 || dup == 0 {
		t.Fatalf("the town recorded SPLIT %d, DUP-INVOICE %d alerts across villages: it must record both for the comparison to mean anything", split, dup)
	}
	if s, d := alerts(held.Books, "SPLIT"), alerts(held.Books, "DUP-INVOICE"); s != split || d != dup {
		t.Errorf("following what the inbox held: SPLIT %d, DUP-INVOICE %d alerts; reading back: %d, %d", s, d, split, dup)
	}
	for _, origin := range []string{villageA, villageB} {
		if h := villages[origin].Ledger().Head(origin); gotSeen[origin] != h {
			t.Errorf("the town followed %s up to %+v, the village's head is %+v", origin, gotSeen[origin], h)
		}
	}
	// The towns' own chains hold the same alerts, with their own salts
	// and signatures: the same length, other hashes.
	if gotSeen[townOrg].Seq != wantSeen[townOrg].Seq {
		t.Errorf("the town's own chain followed up to seq %d from what the inbox held, %d reading back", gotSeen[townOrg].Seq, wantSeen[townOrg].Seq)
	}
	delete(gotSeen, townOrg)
	delete(wantSeen, townOrg)
	if !maps.Equal(gotSeen, wantSeen) {
		t.Errorf("chain positions followed from what the inbox held %v, reading back %v", gotSeen, wantSeen)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the state followed from what the inbox held (%d bytes) differs from the state reading back builds (%d bytes)", len(got), len(want))
	}
}
