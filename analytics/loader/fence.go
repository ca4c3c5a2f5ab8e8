package loader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The fence against an old leader.
//
// Only the leader loads, but a leader that has lost its leadership hears of
// it late (raft's notification, then the member cancelling the run, then a
// ClickHouse call that may not notice a cancellation): for a while an old
// and a new leader's loaders both run. ClickHouse has no transactions and
// no conditional insert, so two loaders that both read max(raft_index) and
// then insert would load the same batch twice, and every sum would count
// it twice.
//
// The fence makes that impossible with what ClickHouse does have: an
// INSERT is atomic per block, a committed insert is visible to every query
// that starts after it returns, and a running query is listed in
// system.processes under the query_id its client chose.
//
//   - Every query a loader inserts with carries the id
//     sanzi-loader-<term>-<nonce>-<n>.
//   - A batch is inserted inside a hold: the loader first opens the insert
//     of the batch's loader_progress row (the query now runs, waiting for
//     its data), then reads max(term) of loader_progress and gives up the
//     batch (ErrFenced) if it is newer than its own; it then inserts the
//     tables and only then sends the progress row, ending the hold.
//   - A loader starting (a new leader, or after ClickHouse failed) claims
//     the table: it inserts a progress row with its term, waits until no
//     query of an older term runs any more, reads max(term) again (a newer
//     loader fences it too), and only then reads how far each table got.
//
// Why no batch goes in twice: take an old loader's batch that is
// inserted. Its fence read did not see the new term, so it started before
// the new loader's claim had returned; its hold was opened before that
// read, so before the claim returned, and it lasts until every table of
// the batch is in. The new loader, waiting after its claim for every older
// query to end, therefore reads the tables only once the whole batch is
// in (or, if the old loader failed half-way, the part that is in, which
// the per-table resume skips). Any later batch of the old loader reads the
// fence after the claim returned and is refused.
//
// This needs no clock and no lease, only ClickHouse 18.16's
// system.processes (query_id, and splitByChar/toUInt64OrZero to read the
// term back), which current releases keep.

// ErrFenced is returned (and ends Run) when a loader of a newer Raft term
// has claimed ClickHouse: this loader's leadership is over.
var ErrFenced = errors.New("loader: a newer leader's loader has taken over")

// queryPrefix starts the id of every query a loader inserts with.
const queryPrefix = "sanzi-loader-"

// tagger names a loader's queries with its term.
type tagger struct {
	prefix string // sanzi-loader-<term>-<nonce>-
	n      atomic.Uint64
}

func newTagger(term uint64) *tagger {
	return &tagger{prefix: queryPrefix + strconv.FormatUint(term, 10) + "-" + strconv.FormatUint(rand.Uint64(), 36) + "-"}
}

// tag gives the next query under ctx its id (unique: ClickHouse refuses a
// second running query of the same id).
func (t *tagger) tag(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithQueryID(t.prefix+strconv.FormatUint(t.n.Add(1), 10)))
}

// olderQueries counts the running queries of loaders with a term below
// term.
const olderQueries = `SELECT count() FROM system.processes
	WHERE startsWith(query_id, '` + queryPrefix + `') AND toUInt64OrZero(splitByChar('-', query_id)[3]) < ?`

// newestTerm is the newest term in loader_progress (rows from before the
// term column are 0).
func newestTerm(ctx context.Context, conn driver.Conn, suffix string) (uint64, error) {
	var term uint64
	if err := conn.QueryRow(ctx, "SELECT max(term) FROM loader_progress"+suffix).Scan(&term); err != nil {
		return 0, fmt.Errorf("read the newest loader term: %w", err)
	}
	return term, nil
}

// claim makes conn's tables this loader's: after it returns nil no loader
// of an older term inserts there again, and none is inserting. A claim
// that ClickHouse saw but whose caller failed is harmless (it only fences
// older loaders sooner), so a failed claim is simply retried.
func (l *Loader) claim(ctx context.Context, conn driver.Conn) error {
	ins, err := conn.PrepareBatch(ctx, "INSERT INTO loader_progress"+l.suffix+" (raft_index, term, at)")
	if err != nil {
		return fmt.Errorf("claim term %d: %w", l.cfg.Term, err)
	}
	// raft_index 0: "every table is complete up to 0" is true, and the
	// resume's max(raft_index) is unchanged.
	if err := ins.Append(uint64(0), l.cfg.Term, time.Now()); err != nil {
		ins.Abort()
		return fmt.Errorf("claim term %d: %w", l.cfg.Term, err)
	}
	if err := ins.Send(); err != nil {
		return fmt.Errorf("claim term %d: %w", l.cfg.Term, err)
	}
	for waited := false; ; waited = true {
		var n uint64
		if err := conn.QueryRow(ctx, olderQueries, l.cfg.Term).Scan(&n); err != nil {
			return fmt.Errorf("look for an older loader's queries: %w", err)
		}
		if n == 0 {
			break
		}
		if !waited {
			l.record(func(s *Stats) { s.WaitedForOlder++ })
			l.cfg.Logger.Warn("an older leader's loader is still inserting; waiting for it to end", "queries", n, "term", l.cfg.Term)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for an older loader's queries to end: %w", ctx.Err())
		case <-time.After(claimPoll):
		}
	}
	return l.fenced(ctx, conn)
}

// claimPoll is how often a claiming loader looks again for an older
// loader's running queries: an old batch usually ends within a second.
const claimPoll = 20 * time.Millisecond

// fenced returns ErrFenced when conn's loader_progress holds a term newer
// than this loader's.
func (l *Loader) fenced(ctx context.Context, conn driver.Conn) error {
	newest, err := newestTerm(ctx, conn, l.suffix)
	if err != nil {
		return err
	}
	if newest > l.cfg.Term {
		return fmt.Errorf("%w (term %d, this loader's %d)", ErrFenced, newest, l.cfg.Term)
	}
	return nil
}

// hold opens the insert of a batch's progress row and then checks the
// fence; the caller inserts the batch's tables and then ends the hold with
// the progress row (or aborts it). See the comment at the top.
func (l *Loader) hold(ctx context.Context, conn driver.Conn) (driver.Batch, error) {
	h, err := conn.PrepareBatch(l.tags.tag(ctx), "INSERT INTO loader_progress"+l.suffix+" (raft_index, term, at)")
	if err != nil {
		return nil, fmt.Errorf("open the progress row: %w", err)
	}
	if l.beforeFence != nil {
		l.beforeFence()
	}
	if err := l.fenced(ctx, conn); err != nil {
		h.Abort()
		return nil, err
	}
	return h, nil
}

// release ends a hold with the batch's progress row: every table is
// complete up to index.
func (l *Loader) release(h driver.Batch, index uint64) error {
	if err := h.Append(index, l.cfg.Term, time.Now()); err != nil {
		h.Abort()
		return fmt.Errorf("record progress %d: %w", index, err)
	}
	if err := h.Send(); err != nil {
		return fmt.Errorf("record progress %d: %w", index, err)
	}
	return nil
}
