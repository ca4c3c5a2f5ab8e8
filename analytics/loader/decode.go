package loader

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Reading the FSM's entries and decoding them (ledger.Decode in
// FSM.Range, then the payload's message) was most of the loader's CPU and
// ran on one goroutine. A decoder does it on several: one goroutine reads
// the feed in chunks and hands each record out in Raft order, workers read
// and decode each record's entries, and the loader's collect takes the
// decoded records back in Raft order. Decoding depends only on what the
// FSM committed, which never changes, so it can run ahead of collect;
// everything that depends on order (the rule sets in force, the summaries,
// which tables already hold an index) stays in collect, on one goroutine,
// so a batch is the same whichever worker decoded what.

// decoded is one feed record with its entries read from the FSM, decoded,
// and made into rows: one batch per range (one origin, so one shard), not
// yet filtered by what the shard's tables hold.
type decoded struct {
	index  uint64
	rec    *clusterv1.FeedRecord
	ranges []*batch // one per rec.Ranges, in order
	err    error
	done   chan struct{} // closed once ranges or err is set
}

// decodeAhead is how many records per worker a decoder keeps decoded
// ahead of collect: enough that a worker never waits for collect, few
// enough that the records of a full batch's look-ahead stay small.
const decodeAhead = 4

// decoder decodes the feed after some Raft index on workers goroutines.
type decoder struct {
	src    Source
	pool   *rangePool
	order  chan *decoded // every record, in Raft order; closed when the feed ends
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startDecoder(ctx context.Context, src Source, pool *rangePool, after uint64, workers int) *decoder {
	ctx, cancel := context.WithCancel(ctx)
	d := &decoder{src: src, pool: pool, order: make(chan *decoded, workers*decodeAhead), cancel: cancel}
	jobs := make(chan *decoded, workers*decodeAhead)
	d.wg.Add(1 + workers)
	go func() {
		defer d.wg.Done()
		defer close(d.order)
		defer close(jobs)
		d.feed(ctx, after, jobs)
	}()
	for range workers {
		go func() {
			defer d.wg.Done()
			w := &worker{wire: newWireDecoder(), cache: newCache()}
			for r := range jobs {
				d.decode(ctx, r, w)
			}
		}()
	}
	return d
}

// feed reads the feed after after in short read transactions (see read)
// and gives each record to order, then to a worker. A record goes to order
// first, so order's capacity bounds the records in flight.
func (d *decoder) feed(ctx context.Context, after uint64, jobs chan<- *decoded) {
	for {
		var recs []*decoded
		err := d.src.Feed(after, feedChunk, func(index uint64, rec *clusterv1.FeedRecord) bool {
			recs = append(recs, &decoded{index: index, rec: rec, done: make(chan struct{})})
			return true
		})
		if err != nil {
			r := &decoded{err: fmt.Errorf("read the feed after %d: %w", after, err), done: make(chan struct{})}
			close(r.done)
			select {
			case d.order <- r:
			case <-ctx.Done():
			}
			return
		}
		for _, r := range recs {
			select {
			case d.order <- r:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- r:
			case <-ctx.Done():
				r.err = ctx.Err()
				close(r.done)
				return
			}
		}
		if len(recs) < feedChunk {
			return
		}
		after = recs[len(recs)-1].index
	}
}

// decode reads record r's entries, one read transaction per range, and
// makes their rows outside it, one batch per range. What depends on Raft
// order is deferred to collect (batch.deferred); the rest (the rows, a
// reversal's target) depends only on committed entries.
func (d *decoder) decode(ctx context.Context, r *decoded, w *worker) {
	defer close(r.done)
	if err := ctx.Err(); err != nil {
		r.err = err
		return
	}
	r.ranges = make([]*batch, len(r.rec.GetRanges()))
	for i, rg := range r.rec.GetRanges() {
		if err := w.read(d.src, rg); err != nil {
			r.err = err
			return
		}
		b := d.pool.get(d.src)
		b.cache = w.cache
		for j := range w.entries {
			if err := w.add(b, r.index, &w.entries[j]); err != nil {
				r.err = err
				return
			}
		}
		r.ranges[i] = b
	}
}

// worker is a decoder goroutine's own: the entries of the range it is
// decoding (reused from range to range: what is kept of an entry past its
// range is copied, see batch.ruleSet) and its wire decoder.
type worker struct {
	wire    *wireDecoder
	entries []ledger.Stored
	cache   *cache
	tx      txRow      // the transaction being read (readTx)
	voucher voucherRow // the voucher being read (readVoucher)
}

// read reads range rg's entries into w.entries, one read transaction;
// undecoded from a rawRanger, the fields the loader uses decoded outside
// ledger.Decode.
func (w *worker) read(src Source, rg *clusterv1.OriginRange) error {
	w.entries = w.entries[:0]
	w.wire.reset() // the last range's payloads are done with
	n := int(rg.GetToSeq() - rg.GetFromSeq() + 1)
	rr, ok := src.(rawRanger)
	if !ok {
		return src.Range(rg.GetOrigin(), rg.GetFromSeq(), n, func(s *ledger.Stored) bool {
			w.entries = append(w.entries, *s)
			return true
		})
	}
	var derr error
	err := rr.RangeRaw(rg.GetOrigin(), rg.GetFromSeq(), n, func(seq uint64, raw []byte) bool {
		w.entries = append(w.entries, ledger.Stored{})
		if derr = w.wire.decode(&w.entries[len(w.entries)-1], raw, rg.GetOrigin()); derr != nil {
			derr = fmt.Errorf("read %s: %w", ledger.EntryID(rg.GetOrigin(), seq), derr)
			return false
		}
		return true
	})
	if err == nil {
		err = derr
	}
	return err
}

// add adds entry s, of Raft index index, to b, a batch of its range: a
// transaction or a voucher read from the wire (readTx, readVoucher), any
// other entry decoded
// (batch.add). Both make the same rows (TestReadTxMatchesProto).
func (w *worker) add(b *batch, index uint64, s *ledger.Stored) error {
	if s.Type == sanziv1.EntryType_ENTRY_TYPE_TRANSACTION {
		err := w.cache.readTx(s.Payload, &w.tx)
		b.addTransaction(index, s, &w.tx, err, nil)
		return nil
	}
	if s.Type == sanziv1.EntryType_ENTRY_TYPE_VOUCHER {
		b.addEntry(index, s, s.RecordedAt.UTC(), nil)
		if err := w.cache.readVoucher(s.Payload, &w.voucher); err != nil {
			b.undecodable++
			return nil
		}
		b.addVoucher(index, s, &w.voucher, nil)
		return nil
	}
	m, err := decode(s)
	return b.add(index, s, m, err, nil)
}

// next is the next record in Raft order, decoded; false once the feed has
// no more.
func (d *decoder) next() (*decoded, bool) {
	r, ok := <-d.order
	if !ok {
		return nil, false
	}
	<-r.done
	return r, true
}

// stop ends the decoder and returns the records it had decoded that next
// did not return yet, in order: the feed right after the last one next
// returned (as far as it was decoded without error).
func (d *decoder) stop() []*decoded {
	d.cancel()
	var left []*decoded
	kept := true
	for r := range d.order {
		<-r.done
		if kept = kept && r.err == nil; kept {
			left = append(left, r)
		}
	}
	d.wg.Wait()
	return left
}

// ordered is what an entry adds that depends on Raft order, kept by a
// decoder's batch for collect: a transactions row's summaries (whose "just
// under" follows the rule sets taken before it), or a rule-set entry (set).
type ordered struct {
	origin       string
	at           time.Time
	month        uint32
	kind, method string
	sign, amount int64
	party        string
	s            *ledger.Stored
	set          *sanziv1.RuleSetVersion
}

// sum counts a transactions row (sign -1: a reversal's negative copy) into
// the summaries, or defers it.
func (b *batch) sum(index uint64, loaded map[string]uint64, o ordered) {
	if b.deferred != nil {
		*b.deferred = append(*b.deferred, o)
		return
	}
	var under bool // only an expense's counts (summaries.add): the rule sets are not looked up for others
	if o.sign == 1 && o.kind == "expense" && o.amount > 0 {
		under = schema.JustUnder(o.amount, b.sets.thresholds(index, o.origin, o.at))
	}
	b.sums.add(index, loaded, o.origin, o.month, o.kind, o.method, o.sign, o.amount, o.party, under)
}

// ruleSet follows rule-set entry s and adds its rule_sets row, or defers
// it.
func (b *batch) ruleSet(index uint64, loaded map[string]uint64, s *ledger.Stored, m *sanziv1.RuleSetVersion) {
	if b.deferred != nil {
		c := *s         // s is the decoder's, reused for the next range
		c.Payload = nil // and so is its payload's memory (wireDecoder.reset); m holds what is read of it
		*b.deferred = append(*b.deferred, ordered{s: &c, set: m})
		return
	}
	if r, ok := b.sets.take(index, s, m); ok {
		district, town := orgParts(s.Origin)
		b.put("rule_sets", index, loaded, s.Origin, s.Seq, district, town, r.Version, string(r.State), r.Sha256, r.EffectiveAt, r.Rules, r.Fen)
	}
}

// holdRows is the fewest rows a range's batch has for merge to hold its
// tables rather than copy them: below it, the driver's per-column call
// for each part (insert) would cost more than the copy.
const holdRows = 64

// merge adds src, a decoder's batch of one range of Raft index index, to
// b: each table's rows unless b's shard already holds index in it, then
// what src deferred, in entry order. A range of holdRows rows or more
// (the loader's: holdRows, unless a test says) has its rows held, not
// copied (copying every column of every row was most of collect, which
// runs on one goroutine): merge then returns true, and src is b's until
// b is sent (b.held).
func (b *batch) merge(index uint64, loaded map[string]uint64, src *batch, holdRows int) (held bool) {
	held = src.rows >= holdRows
	for name, t := range src.tables {
		if index <= loaded[name] || t.n == 0 && t.err == nil {
			continue
		}
		if held {
			b.table(name).hold(t)
		} else {
			b.table(name).concat(t)
		}
		b.rows += t.n
	}
	if held {
		b.held = append(b.held, src)
	}
	b.undecodable += src.undecodable
	for _, o := range *src.deferred {
		if o.set != nil {
			b.ruleSet(index, loaded, o.s, o.set)
			continue
		}
		b.sum(index, loaded, o)
	}
	return held
}

// rangePool keeps the batches of ranges collect has merged, emptied with
// their columns' capacity, for the decoders to fill again: a range's
// columns would otherwise grow from nothing for every range.
//
// A batch held by a bigger one until it is sent (merge) gives its deferred
// list back at once (shed): collect has taken what it deferred, and the
// lists, one ordered (~130 bytes) a transaction, were a fifth of the
// loader's live heap at BatchRows 400,000 while they waited to be sent
// with their batch (heap profile of BenchmarkLoaderVsClient).
type rangePool struct {
	p        sync.Pool // *batch
	deferred sync.Pool // *[]ordered, emptied
}

func (r *rangePool) get(src Source) *batch {
	if b, ok := r.p.Get().(*batch); ok {
		return b
	}
	b := newBatch(src, nil)
	b.deferred = r.list()
	return b
}

// list is an empty deferred list.
func (r *rangePool) list() *[]ordered {
	if d, ok := r.deferred.Get().(*[]ordered); ok {
		return d
	}
	return new([]ordered)
}

// shed takes b's deferred list, once collect has merged b, for another
// range to fill; b keeps its rows (it is held) until put.
func (r *rangePool) shed(b *batch) {
	if b.deferred == nil {
		return
	}
	clear(*b.deferred)
	*b.deferred = (*b.deferred)[:0]
	r.deferred.Put(b.deferred)
	b.deferred = nil
}

// put empties b and keeps it; b must not be used again by the caller.
func (r *rangePool) put(b *batch) {
	b.reset()
	if b.deferred == nil {
		b.deferred = r.list()
	} else {
		clear(*b.deferred)
		*b.deferred = (*b.deferred)[:0]
	}
	r.p.Put(b)
}
