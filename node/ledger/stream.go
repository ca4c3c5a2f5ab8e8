package ledger

import (
	"context"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"

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
	err := l.db.Update(func(tx *bolt.Tx) error {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("append: %w", err)
			return errStreamRefused
		}
		chains := tx.Bucket(bucketChains)
		// One record is read ahead: whether an entry is signed depends on
		// the one after it (the end of the stream, another chain, a key
		// rotation), as signPlan decides for an Append. run counts the
		// unsigned entries written since the last signed one.
		read := func(n int) (Record, bool, error) {
			rec, err := r.src.Next()
			if errors.Is(err, io.EOF) {
				return Record{}, false, nil
			}
			if err != nil {
				return Record{}, false, fmt.Errorf("read record %d of a streamed append: %w", n, err)
			}
			return rec, true, nil
		}
		ahead, more, err := read(1)
		if err != nil {
			r.err = err
			return errStreamRefused
		}
		run := 0
		for more {
			rec := ahead
			if ahead, more, err = read(len(ids) + 2); err != nil {
				r.err = err
				return errStreamRefused
			}
			rotation := sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION
			sign := !more || ahead.Origin != rec.Origin || ahead.Type == rotation || rec.Type == rotation || run == MaxUnsignedRun
			if sign {
				run = 0
			} else {
				run++
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
			s, err := l.writeIndexed(tx, chains, heads, rec, now, sign)
			if err != nil {
				return err
			}
			ids = append(ids, s.ID())
			if r.each != nil {
				r.each(s)
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
