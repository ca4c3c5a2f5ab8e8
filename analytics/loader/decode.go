package loader

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
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

// decoded is one feed record with its entries read from the FSM and their
// payloads decoded.
type decoded struct {
	index  uint64
	rec    *clusterv1.FeedRecord
	ranges [][]decodedEntry // one per rec.Ranges, in order
	err    error
	done   chan struct{} // closed once ranges or err is set
}

// decodedEntry is an entry and its payload's message (nil, or err, when
// the payload does not read).
type decodedEntry struct {
	s   *ledger.Stored
	m   proto.Message
	err error
}

// decodeAhead is how many records per worker a decoder keeps decoded
// ahead of collect: enough that a worker never waits for collect, few
// enough that the records of a full batch's look-ahead stay small.
const decodeAhead = 4

// decoder decodes the feed after some Raft index on workers goroutines.
type decoder struct {
	src    Source
	order  chan *decoded // every record, in Raft order; closed when the feed ends
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startDecoder(ctx context.Context, src Source, after uint64, workers int) *decoder {
	ctx, cancel := context.WithCancel(ctx)
	d := &decoder{src: src, order: make(chan *decoded, workers*decodeAhead), cancel: cancel}
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
			for r := range jobs {
				d.decode(ctx, r)
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
// decodes their payloads outside it.
func (d *decoder) decode(ctx context.Context, r *decoded) {
	defer close(r.done)
	if err := ctx.Err(); err != nil {
		r.err = err
		return
	}
	r.ranges = make([][]decodedEntry, len(r.rec.GetRanges()))
	for i, rg := range r.rec.GetRanges() {
		n := int(rg.GetToSeq() - rg.GetFromSeq() + 1)
		es := make([]decodedEntry, 0, max(0, min(n, 4096)))
		err := d.src.Range(rg.GetOrigin(), rg.GetFromSeq(), n, func(s *ledger.Stored) bool {
			es = append(es, decodedEntry{s: s})
			return true
		})
		if err != nil {
			r.err = err
			return
		}
		for j := range es {
			es[j].m, es[j].err = decode(es[j].s)
		}
		r.ranges[i] = es
	}
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
