package watch

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// adder appends to *evs an entry of m recorded at d, its id the next
// seq of one chain, and says that seq.
func adder(evs *[]Event) func(d time.Time, m proto.Message) int {
	return func(d time.Time, m proto.Message) int {
		*evs = append(*evs, Event{ID: id(len(*evs) + 1), RecordedAt: d, Msg: m})
		return len(*evs)
	}
}

// archiveHistory is a history of every kind the rules keep, as
// BenchmarkLoad's, with what the archive holds besides: a procedure per
// record (no period, about an entry) decided days later or never,
// contracts that expire, renewed by a later procedure about them (some
// reversed) or by a signing procedure of the same day (no renewal), and
// complaints answered late or never; with reversals of procedures long
// archived.
func archiveHistory(t testing.TB, n int) []Event {
	t.Helper()
	var evs []Event
	base := bj(t, "2026-01-01 10:00")
	var open []int     // plain procedures not decided yet
	var renewals []int // renewal procedures to reverse
	var soon []int     // procedures just decided, to reverse
	add := adder(&evs)
	for i := 0; len(evs) < n; i++ {
		d := base.AddDate(0, 0, i/12)
		date := d.Format(time.DateOnly)
		switch i % 12 {
		case 0:
			tx := add(d, exp(int64(100+i%5000), date, payee("张三", person(t, i%7)), invoice("044", strconv.Itoa(i%900)), category("会议"), line("会议费")))
			open = append(open, add(d, proc("EXP-PAY", "", id(tx))))
		case 1:
			tx := add(d, exp(int64(100+i%5000), date, account("建材公司", "62220202001"+strconv.Itoa(i%30)), category("办公费")))
			open = append(open, add(d, proc("EXP-PAY", "", id(tx))))
		case 2:
			add(d, inc(int64(1000+i%5000), date, cash, payee("王五", person(t, i%5))))
			add(d, bank(int64(900+i%5000), date))
		case 3:
			// Ends within weeks: EXPIRING asks whether it was renewed.
			c := add(d, lease("obj-"+strconv.Itoa(i), d.AddDate(0, 0, 20+i%30).Format(time.DateOnly), due(date, 700)))
			add(d, proc("CONTRACT-LEASE", "", id(c))) // its signing: no renewal
			if i%36 == 3 {
				// A renewal procedure some days later, reversed one in
				// two, once archived.
				r := add(d.AddDate(0, 0, 3), proc("CONTRACT-END", "", id(c)))
				if i%72 == 3 {
					renewals = append(renewals, r)
				}
			}
		case 4:
			add(d, cpay(len(evs), 300, date, i%24 == 4))
		case 5:
			p := add(d, proc("FUND-BANKREC", date[:7], "subj-"+strconv.Itoa(i)))
			add(d, closes(p, i%3 == 0))
		case 6:
			c := add(d, proc("GOV-COMPLAINT", "", ""))
			if i%24 == 6 {
				add(d.AddDate(0, 0, 2+i%40), closes(c, true))
			}
		case 7:
			add(d, receive(int64(10_000+i%5000), date))
			add(d, pay(int64(300+i%5000), date))
		case 8:
			add(d, txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 500, date, payee("赵六", person(t, i%3))))
		case 9:
			add(d, closeMonth(date[:7]))
			add(d, rev(len(evs)-3))
		case 10:
			// Decide the oldest open procedures, long archived by now.
			for range 3 {
				if len(open) == 0 || open[0] > len(evs)-1500 {
					break
				}
				add(d, closes(open[0], i%5 != 0))
				if i%2 == 0 {
					soon = append(soon, open[0])
				}
				open = open[1:]
			}
		case 11:
			// Reversed just after its decision: a checkpoint staging
			// between the two must not lose the second.
			for _, p := range soon {
				add(d, rev(p))
			}
			soon = soon[:0]
			if len(renewals) > 0 && renewals[0] < len(evs)-1500 {
				add(d, rev(renewals[0]))
				renewals = renewals[1:]
			}
			if i%60 == 11 && len(evs) > 2000 {
				// Reverse a procedure of long ago (archived), and its
				// transaction.
				add(d, rev(len(evs)-1900))
			}
		}
	}
	return evs
}

// TestArchiveAnswersAsMemory runs one long history through a watcher
// that keeps everything in memory and one that keeps what resident does
// not, and the transactions by invoice, in an archive, checkpointed every few hundred entries (the batch
// written some entries after it was staged, as a node writes it while
// recording goes on), crashed after some checkpoints (and once between a
// staging and its write) and restarted from the last checkpoint written,
// replaying what came after it: every entry's findings and every sweep's
// are the same.
func TestArchiveAnswersAsMemory(t *testing.T) {
	answersAsMemory(t, archiveHistory(t, 12_000))
}

// TestArchiveAnswersAsMemoryReversals is TestArchiveAnswersAsMemory on a
// history whose entries that no rule's list holds (listed) leave memory
// for the archive, their share of the sums kept in the checkpoint, and
// are reversed long after: vouchers (BOOKS-CASH-NEGATIVE reads the
// balances), contract payments not in cash (ARREARS reads what was paid),
// incomes not in cash and from no person (the year's income, DUP-INVOICE
// on their invoices), expenses SPLIT has counted (their invoices claimed
// again later), and expenses to no payee.
func TestArchiveAnswersAsMemoryReversals(t *testing.T) {
	answersAsMemory(t, reversalHistory(t, 12_000))
}

// reversalHistory: see TestArchiveAnswersAsMemoryReversals.
func reversalHistory(t testing.TB, n int) []Event {
	t.Helper()
	var evs []Event
	base := bj(t, "2026-01-01 10:00")
	add := adder(&evs)
	var old []int // entries to reverse once long archived, in chain order
	var contracts []int
	for i := 0; len(evs) < n; i++ {
		d := base.AddDate(0, 0, i/10)
		date := d.Format(time.DateOnly)
		// Back-dated now and then, into days long checkpointed.
		back := d.AddDate(0, 0, -(i%7)*40).Format(time.DateOnly)
		switch i % 10 {
		case 0:
			// Structured: SPLIT counts them (and they leave memory).
			old = append(old, add(d, exp(int64(1_000_000+i%30*100_000), back, account("建材公司", "6222"+strconv.Itoa(i%4)), invoice("044", strconv.Itoa(i%700)))))
		case 1:
			old = append(old, add(d, inc(int64(50_000+i%5000), date, invoice("045", strconv.Itoa(i%500)))))
		case 2:
			old = append(old, add(d, receive(int64(5_000+i%3000), back)))
			old = append(old, add(d, pay(int64(6_000+i%4000), back)))
		case 3:
			c := add(d, lease("obj-"+strconv.Itoa(i), d.AddDate(1, 0, 0).Format(time.DateOnly), due(date, 700), due(d.AddDate(0, 2, 0).Format(time.DateOnly), 900)))
			contracts = append(contracts, c)
		case 4:
			if len(contracts) > 0 {
				old = append(old, add(d, cpay(contracts[i%len(contracts)], 400, date, false)))
			}
		case 5:
			old = append(old, add(d, exp(int64(300+i%900), date, func(tx *sanziv1.Transaction) { tx.Counterparty = nil }, invoice("046", strconv.Itoa(i%300)))))
		case 6:
			add(d, inc(int64(1000+i%5000), date, cash, payee("王五", person(t, i%5))))
			add(d, bank(int64(900+i%5000), date))
		case 7:
			add(d, closeMonth(back[:7]))
		case 8:
			// Reverse two entries of long ago, archived by now.
			for range 2 {
				if len(old) > 0 && old[0] < len(evs)-1500 {
					add(d, rev(old[0]))
					old = old[min(3, len(old)):] // one in three
				}
			}
		}
	}
	return evs
}

func answersAsMemory(t *testing.T, evs []Event) {
	const sweepEvery, checkpointEvery, writeLag = 97, 700, 40
	type step struct {
		at   int // index of the event; a sweep follows events at multiples of sweepEvery
		hits string
	}
	show := func(hs []rules.Hit) string {
		if len(hs) == 0 {
			return ""
		}
		return fmt.Sprintf("%+v", hs)
	}
	run := func(w *Watcher, i int) (observed, swept string) {
		observed = show(w.Observe(evs[i]))
		if i%sweepEvery == sweepEvery-1 {
			swept = show(w.Sweep(evs[i].RecordedAt.Add(time.Hour)))
		}
		return observed, swept
	}

	mem, _ := watcher(t)
	want := make([][2]string, len(evs))
	for i := range evs {
		want[i][0], want[i][1] = run(mem, i)
	}

	db, err := bolt.Open(filepath.Join(t.TempDir(), "archive.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	arch := NewArchive(db, "test")
	w, _ := watcher(t)
	w.UseArchive(arch)
	got := make([][2]string, len(evs))
	// written is the last checkpoint committed: its state and the event
	// it follows (-1: none, a start from nothing).
	var written []byte
	writtenAt := -1
	type pending struct {
		state []byte
		batch *Batch
		at    int
	}
	var staged *pending
	crashed := map[int]bool{}
	restart := func() int {
		w, _ = watcher(t)
		if written != nil {
			if err := w.Load(checkpoint.NewDecoder(written)); err != nil {
				t.Fatal(err)
			}
		}
		w.UseArchive(arch)
		if err := w.Err(); err != nil {
			t.Fatal(err)
		}
		staged = nil
		return writtenAt + 1
	}
	archived, fetchedMax := 0, 0
	for i := 0; i < len(evs); i++ {
		got[i][0], got[i][1] = run(w, i)
		if staged != nil && i == staged.at+writeLag {
			if err := db.Update(staged.batch.Write); err != nil {
				t.Fatal(err)
			}
			written, writtenAt = staged.state, staged.at
			staged.batch.Done()
			archived += staged.batch.Len()
			staged = nil
		}
		fetchedMax = max(fetchedMax, len(w.st.fetched))
		if i%checkpointEvery == checkpointEvery-1 && staged == nil {
			var enc checkpoint.Encoder
			w.Save(&enc)
			data, err := enc.Data()
			if err != nil {
				t.Fatal(err)
			}
			staged = &pending{state: data, batch: w.Staged(), at: i}
		}
		// Crash once after each third checkpoint written, some entries
		// on; once between a staging and its write.
		if writtenAt >= 0 && (writtenAt/checkpointEvery%3 == 1 && i == writtenAt+writeLag+150 ||
			staged != nil && staged.at/checkpointEvery == 8 && i == staged.at+writeLag/2) && !crashed[i] {
			crashed[i] = true
			i = restart() - 1
		}
	}
	if len(crashed) < 3 {
		t.Fatalf("only %d crashes", len(crashed))
	}
	if archived < 1000 || fetchedMax == 0 {
		t.Fatalf("%d entries archived, %d at most read back and changed: the test tests too little", archived, fetchedMax)
	}
	n := 0
	for i := range evs {
		for j, what := range []string{"observed", "swept"} {
			if got[i][j] != want[i][j] && n < 5 {
				n++
				t.Errorf("%s after %s (%T):\n got %.600s\nwant %.600s", what, evs[i].ID, evs[i].Msg, got[i][j], want[i][j])
			}
		}
	}
	// And each entry is kept as it is in memory, from memory or the
	// archive: reversed, decided, approved.
	for _, r := range mem.st.ids.all() {
		a := w.st.lookup(r.id)
		if a == nil {
			t.Errorf("%s: not kept with the archive", r.id)
			continue
		}
		if got, want := describe(t, a), describe(t, r); got != want {
			t.Errorf("kept with the archive as\n%s\nin memory as\n%s", got, want)
		}
	}
	fired := 0
	for i := range want {
		if want[i][0] != "" || want[i][1] != "" {
			fired++
		}
	}
	if fired < 100 {
		t.Errorf("only %d steps found anything: the history exercises too little", fired)
	}
	// The archive holds the record-opened procedures, not the state.
	if w.st.ids.len() >= mem.st.ids.len() {
		t.Errorf("%d entries in memory with the archive, %d without", w.st.ids.len(), mem.st.ids.len())
	}
	t.Logf("%d entries in memory with the archive, %d without; %d archived, at most %d read back and changed; %d steps found something; %d crashes",
		w.st.ids.len(), mem.st.ids.len(), archived, fetchedMax, fired, len(crashed))
}

// TestArchiveAnswersAsMemoryListedReversed is TestArchiveAnswersAsMemory
// on a history whose entries that a rule's list holds (listed: staff
// advances, repayments and receipts in cash, cash banked, contracts and
// payments in cash, procedures of a period, expenses SPLIT may count)
// are reversed long after, once a restart has loaded them from the
// checkpoint: reversed, they leave the lists for the archive, and their
// share of the checkpointed sums must go exactly once.
func TestArchiveAnswersAsMemoryListedReversed(t *testing.T) {
	answersAsMemory(t, listedReversedHistory(t, 9_000))
}

// listedReversedHistory: see TestArchiveAnswersAsMemoryListedReversed.
func listedReversedHistory(t testing.TB, n int) []Event {
	t.Helper()
	var evs []Event
	base := bj(t, "2026-01-01 10:00")
	add := adder(&evs)
	var old, opened []int
	var contracts []int
	for i := 0; len(evs) < n; i++ {
		d := base.AddDate(0, 0, i/9)
		date := d.Format(time.DateOnly)
		switch i % 9 {
		case 0:
			old = append(old, add(d, txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, int64(500+i%900), date, payee("赵六", person(t, i%4)))))
			old = append(old, add(d, exp(int64(400_000+i%20*50_000), date, payee("张三", person(t, i%6)), invoice("047", strconv.Itoa(i%400)))))
			opened = append(opened, add(d, proc("EXP-PAY", "", id(len(evs))))) // archived, decided long after
		case 1:
			old = append(old, add(d, inc(int64(700+i%800), date, cash, payee("赵六", person(t, i%4)), invoice("048", strconv.Itoa(i%300)))))
			old = append(old, add(d, bank(int64(600+i%700), date)))
		case 2:
			c := add(d, lease("obj-"+strconv.Itoa(i%50), d.AddDate(0, 2, 0).Format(time.DateOnly), due(date, 700), due(d.AddDate(0, 1, 0).Format(time.DateOnly), 900)))
			contracts = append(contracts, c)
			old = append(old, c)
		case 3:
			if len(contracts) > 0 {
				old = append(old, add(d, cpay(contracts[i%len(contracts)], 500, date, true)))
			}
		case 4:
			p := add(d, proc("FUND-BANKREC", date[:7], "subj-"+strconv.Itoa(i)))
			old = append(old, p)
			if i%2 == 0 {
				add(d, closes(p, true))
			}
		case 5:
			old = append(old, add(d, proc("GOV-COMPLAINT", "", "")))
		case 6:
			add(d, receive(int64(2_000+i%500), date))
			add(d, pay(int64(1_000+i%500), date))
		case 7:
			add(d, closeMonth(date[:7]))
		case 8:
			for range 2 {
				if len(old) > 0 && old[0] < len(evs)-1200 {
					add(d, rev(old[0]))
					old = old[min(2, len(old)):] // one in two
				}
			}
			if len(opened) > 0 && opened[0] < len(evs)-1200 {
				add(d, closes(opened[0], true))
				opened = opened[1:]
			}
		}
	}
	return evs
}
