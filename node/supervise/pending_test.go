package supervise_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestFollowingWhatIsPublishedMatchesAReplay: a supervision that follows
// the entries the books hand over as they append (Published), and reads
// back only those appended outside them, ends in the state that a replay
// of the same chain from the ledger builds (the way every entry was
// followed before), with the same alerts recorded: concurrent recorders
// whose expenses split payments and repeat invoices (SPLIT, DUP-INVOICE),
// a tenth of them appended outside the books' recording.
func TestFollowingWhatIsPublishedMatchesAReplay(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	n, closeNode := openSupervised(t, dir, clock, nil)
	const recorders, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, recorders)
	for g := range recorders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := g*each + i
				tx := plainExpense(1_500_000, fmt.Sprintf("%08d", k%17))
				tx.Counterparty.Name = fmt.Sprintf("福州某建材有限公司%d", k%3)
				tx.Counterparty.BankAccount = fmt.Sprintf("622202020011223344%d", k%3)
				var err error
				if k%10 == 0 {
					_, err = n.AppendEntry(ctx, benchOrg, "会计", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, tx, "")
				} else {
					_, _, err = n.RecordTransaction(ctx, "会计", tx)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := n.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	alerts := func(b *books.Books, code string) int64 {
		_, _, total, err := b.ListAlerts(books.AlertFilter{Org: benchOrg, RuleCode: code}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}
	followed, seen, err := supervise.StateOf(n.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	split, dup := alerts(n.Books, "SPLIT"), alerts(n.Books, "DUP-INVOICE")
	if split == 0 || dup == 0 {
		t.Fatalf("SPLIT %d, DUP-INVOICE %d alerts: the recording must raise both for the comparison to mean anything", split, dup)
	}
	closeNode()

	replayed, _ := openSupervised(t, dir, clock, nil)
	state, replayedSeen, err := supervise.StateOf(replayed.Supervisor)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(seen, replayedSeen) {
		t.Errorf("chain positions followed %v, replayed %v", seen, replayedSeen)
	}
	if !bytes.Equal(followed, state) {
		t.Errorf("the state followed while recording (%d bytes) differs from the state a replay builds (%d bytes)", len(followed), len(state))
	}
	if s, d := alerts(replayed.Books, "SPLIT"), alerts(replayed.Books, "DUP-INVOICE"); s != split || d != dup {
		t.Errorf("after the replay SPLIT %d, DUP-INVOICE %d alerts; recorded while following: %d, %d", s, d, split, dup)
	}
}
