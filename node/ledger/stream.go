package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// RecordSource yields the records of one streamed append in order, and
// io.EOF after the last. It is read on the committer goroutine, inside the
// write transaction, so it must read only local storage (a staging file),
// never the network.
type RecordSource interface {
	Next() (Record, error)
}

// errStreamRefused rolls back a streamed append refused part way; the
// request carries the reason.
var errStreamRefused = errors.New("ledger: streamed append refused")

// AppendStream records every record src yields, the node's own records only
// (no Raw), in one bbolt transaction: all or none, as Append. It exists for
// bulk imports, whose records are staged on disk rather than held in a slice:
// the ledger holds no copy of them beyond what bbolt keeps for the
// transaction (the encoded entries, until the commit writes them), and each
// is handed to each as it is written and then dropped.
//
// Guarantee: the entries become visible, to readers and after a crash,
// together or not at all, because they are written by one bbolt transaction,
// whose meta page is written and synced only after every data page; a crash
// before that leaves the file as it was. Indexer.Check runs before each
// record (it sees the records of the same stream written before it); a
// refusal, an error of src or a cancelled ctx before the commit rolls the
// whole stream back. A streamed append commits alone, never grouped with
// other appends, so its refusal costs nobody else a retry.
//
// each runs on the committer before the transaction commits: it may only
// take note (count, keep ids); the entries are recorded once AppendStream
// returns nil. It returns how many entries were written.
func (l *Ledger) AppendStream(ctx context.Context, src RecordSource, each func(*Stored)) (int, error) {
	// Its records' origins are known only as they are read, inside the
	// transaction: every chain the deferred check has not passed yet is
	// waited for first (a streamed import is rare; the check takes about
	// a second a million entries).
	for o := range l.unchecked {
		if err := l.waitChecked(ctx, o); err != nil {
			return 0, err
		}
	}
	req := &appendReq{ctx: ctx, src: src, each: each, done: make(chan struct{})}
	if err := l.submit(req); err != nil {
		return 0, err
	}
	if req.err != nil {
		return 0, req.err
	}
	return req.written, nil
}

// commitStream writes one streamed append in its own transaction.
func (l *Ledger) commitStream(r *appendReq) {
	heads := map[string]Head{}
	now := l.cfg.Now().UTC()
	// ids of the entries written so far, for Record.About: a string each,
	// not the entries.
	var ids []string
	// open holds, for each chain, its newest entry written unsigned and
	// how many unsigned ones end with it: whether it is the last of its
	// chain in the stream is known only at the next record or at the end
	// (the source may depend on each having seen it, so nothing is read
	// ahead), and then it is signed in place (signLater).
	type run struct {
		s *Stored
		n int
	}
	open := map[string]*run{}
	err := l.db.Update(func(tx *bolt.Tx) error {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("append: %w", err)
			return errStreamRefused
		}
		chains := tx.Bucket(bucketChains)
		for {
			rec, err := r.src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.err = fmt.Errorf("read record %d of a streamed append: %w", len(ids)+1, err)
				return errStreamRefused
			}
			if rec.Raw != nil {
				r.err = fmt.Errorf("record %d of a streamed append: verbatim entries are not streamed", len(ids)+1)
				return errStreamRefused
			}
			if err := l.admit(rec.Origin); err != nil {
				r.err = err
				return errStreamRefused
			}
			if _, ok := heads[rec.Origin]; !ok {
				heads[rec.Origin] = l.Head(rec.Origin)
			}
			if l.cfg.Indexer != nil {
				one := []Record{rec}
				if err := l.cfg.Indexer.Check(tx, one); err != nil {
					r.err = err
					return errStreamRefused
				}
				rec = one[0] // as Check completed it
			}
			if rec.About > 0 && rec.About <= len(ids) {
				rec.Subject = ids[rec.About-1]
			}
			// Signed as an Append's records are (signPlan): a rotation
			// and the entry before it, one after MaxUnsignedRun unsigned,
			// and the last of each chain (below).
			o := open[rec.Origin]
			sign := rec.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION || (o != nil && o.n == MaxUnsignedRun)
			if rec.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION && o != nil {
				if err := l.signLater(chains, o.s); err != nil {
					return err
				}
			}
			s, err := l.writeIndexed(tx, chains, heads, rec, now, sign)
			if err != nil {
				return err
			}
			switch {
			case sign:
				delete(open, rec.Origin)
			case o == nil || o.s.Signed():
				open[rec.Origin] = &run{s: s, n: 1}
			default:
				o.s, o.n = s, o.n+1
			}
			ids = append(ids, s.ID())
			if r.each != nil {
				r.each(s)
			}
		}
		for _, o := range open {
			if err := l.signLater(chains, o.s); err != nil {
				return err
			}
		}
		// The context is checked once more: a caller gone while its rows
		// were written learns nothing was recorded.
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("append: %w", err)
			return errStreamRefused
		}
		return nil
	})
	switch {
	case errors.Is(err, errStreamRefused):
		l.stRefused.Add(1)
		return
	case err != nil:
		l.log.Error("ledger commit of a streamed append failed; nothing of it is recorded", "err", err, "records", len(ids))
		r.err = fmt.Errorf("commit ledger transaction: %w", err)
		return
	}
	l.mu.Lock()
	for o, h := range heads {
		l.heads[o] = h
	}
	l.mu.Unlock()
	r.written = len(ids)
	l.stEntries.Add(uint64(len(ids)))
	l.stCommits.Add(1)
	l.stAppends.Add(1)
	if uint64(len(ids)) > l.stMaxBatch.Load() {
		l.stMaxBatch.Store(uint64(len(ids)))
	}
}

// signLater signs s, written unsigned earlier in the same transaction,
// once it is known to end its run: its hash is unchanged (the signature is
// outside the body), so only its stored bytes change, and s itself is
// updated for whoever was handed it (AppendStream's each) before the
// commit.
func (l *Ledger) signLater(chains *bolt.Bucket, s *Stored) error {
	if s.Signed() {
		return nil
	}
	key, _ := l.cfg.Keys.Private(s.Origin)
	var e sanziv1.Entry
	if err := proto.Unmarshal(s.Raw, &e); err != nil {
		return fmt.Errorf("sign %s: %w", s.ID(), err)
	}
	e.Signature = ed25519.Sign(key, s.Hash[:])
	raw, err := proto.Marshal(&e)
	if err != nil {
		return fmt.Errorf("sign %s: %w", s.ID(), err)
	}
	if err := chains.Bucket([]byte(s.Origin)).Put(seqKey(s.Seq), raw); err != nil {
		return fmt.Errorf("sign %s: %w", s.ID(), err)
	}
	s.Raw, s.Signature = raw, e.Signature
	return nil
}
