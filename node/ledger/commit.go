package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// run is the committer, the one goroutine that writes: it takes every
// Append waiting at that moment into a single bbolt transaction (group
// commit), seals each record into the entry that follows its chain's head,
// stores verbatim entries another node sealed, and runs the Indexer in the
// same transaction.
func (l *Ledger) run() {
	defer close(l.done)
	batch := make([]*appendReq, 0, 64)
	for req := range l.reqs {
		if req.src != nil {
			l.commitStream(req)
			close(req.done)
			continue
		}
		batch = append(batch[:0], req)
		n := len(req.recs)
		// A streamed append drained here waits for the batch before it and
		// then commits alone: it cannot be replayed if a batch rolls back.
		var stream *appendReq
	drain:
		for n < l.cfg.MaxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				if r.src != nil {
					stream = r
					break drain
				}
				batch = append(batch, r)
				n += len(r.recs)
			default:
				break drain
			}
		}
		l.commit(batch)
		for _, r := range batch {
			close(r.done)
		}
		if stream != nil {
			l.commitStream(stream)
			close(stream.done)
		}
	}
}

// commit writes one group of requests in one transaction.
func (l *Ledger) commit(batch []*appendReq) {
	heads := map[string]Head{}
	l.mu.RLock()
	for _, r := range batch {
		for _, rec := range r.recs {
			heads[rec.Origin] = l.heads[rec.Origin]
		}
	}
	l.mu.RUnlock()
	now := l.cfg.Now().UTC()
	var written, refused uint64
	err := l.db.Update(func(tx *bolt.Tx) error {
		chains := tx.Bucket(bucketChains)
		for _, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.err = fmt.Errorf("append: %w", err)
				continue
			}
			if l.cfg.Indexer != nil && r.recs[0].Raw == nil {
				if err := l.cfg.Indexer.Check(tx, r.recs); err != nil {
					r.err = err
					refused++
					continue
				}
			}
			r.out = make([]*Stored, 0, len(r.recs))
			sign := signPlan(r.recs)
			for i, rec := range r.recs {
				if rec.About > 0 && rec.About <= len(r.out) {
					rec.Subject = r.out[rec.About-1].ID()
				}
				if rec.Raw != nil {
					s, err := l.writeVerbatim(chains, heads, rec.Raw)
					if err != nil {
						r.err, r.out = err, nil
						return errVerbatim
					}
					if s != nil {
						// Indexed like the node's own entries, so a town
						// lists its villages' alerts and transactions.
						if l.cfg.Indexer != nil {
							if err := l.cfg.Indexer.Index(tx, s); err != nil {
								return fmt.Errorf("index %s: %w", s.ID(), err)
							}
						}
						r.out = append(r.out, s)
						written++
					}
					continue
				}
				s, err := l.writeIndexed(tx, chains, heads, rec, now, sign[i])
				if err != nil {
					return err
				}
				r.out = append(r.out, s)
				written++
			}
		}
		return nil
	})
	if errors.Is(err, errVerbatim) {
		// One verbatim append did not fit its chain: the transaction rolled
		// back; everyone else in it tries again on their own.
		var retry []*appendReq
		for _, r := range batch {
			if r.err == nil {
				r.out = nil
				retry = append(retry, r)
			}
		}
		for _, r := range retry {
			l.commit([]*appendReq{r})
		}
		return
	}
	if err != nil {
		l.log.Error("ledger commit failed; every append in it is refused", "err", err, "appends", len(batch))
		for _, r := range batch {
			if r.err == nil {
				r.err = fmt.Errorf("commit ledger transaction: %w", err)
			}
			r.out = nil
		}
		return
	}
	l.mu.Lock()
	for o, h := range heads {
		l.heads[o] = h
	}
	l.mu.Unlock()
	l.stEntries.Add(written)
	l.stCommits.Add(1)
	l.stRefused.Add(refused)
	l.stAppends.Add(uint64(len(batch)) - refused)
	if written > l.stMaxBatch.Load() {
		l.stMaxBatch.Store(written)
	}
}

// errVerbatim aborts a commit whose verbatim append was refused; that
// request carries the reason.
var errVerbatim = errors.New("ledger: verbatim append refused")

// writeVerbatim stores raw if it follows its chain's head; a copy of an
// entry already held returns nil (nothing to do).
func (l *Ledger) writeVerbatim(chains *bolt.Bucket, heads map[string]Head, raw []byte) (*Stored, error) {
	s, err := Decode(append([]byte(nil), raw...))
	if err != nil {
		return nil, fmt.Errorf("verbatim entry: %w", err)
	}
	head := heads[s.Origin]
	b, err := chains.CreateBucketIfNotExists([]byte(s.Origin))
	if err != nil {
		return nil, fmt.Errorf("create chain %s: %w", s.Origin, err)
	}
	switch {
	case s.Seq <= head.Seq:
		held, err := Decode(append([]byte(nil), b.Get(seqKey(s.Seq))...))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.ID(), err)
		}
		if held.Hash != s.Hash {
			return nil, fmt.Errorf("%w: %s differs from the entry held at that seq", ErrFork, s.ID())
		}
		return nil, nil
	case s.Seq != head.Seq+1:
		return nil, fmt.Errorf("%w: %s does not follow the head %d of its chain", ErrGap, s.ID(), head.Seq)
	case s.PrevHash != head.Hash:
		return nil, fmt.Errorf("%w: %s does not link to the held entry %d", ErrFork, s.ID(), head.Seq)
	}
	b.FillPercent = 1
	if err := b.Put(seqKey(s.Seq), s.Raw); err != nil {
		return nil, fmt.Errorf("store %s: %w", s.ID(), err)
	}
	heads[s.Origin] = Head{Seq: s.Seq, Hash: s.Hash}
	return s, nil
}

// writeIndexed writes rec as write does and hands it to the indexer in the
// same transaction.
func (l *Ledger) writeIndexed(tx *bolt.Tx, chains *bolt.Bucket, heads map[string]Head, rec Record, now time.Time, sign bool) (*Stored, error) {
	s, err := l.write(tx, chains, heads, rec, now, sign)
	if err != nil {
		return nil, err
	}
	if l.cfg.Indexer != nil {
		if err := l.cfg.Indexer.Index(tx, s); err != nil {
			return nil, fmt.Errorf("index %s: %w", s.ID(), err)
		}
	}
	return s, nil
}

// write seals rec after its chain's head, signed or not (signPlan), and
// stores it.
func (l *Ledger) write(tx *bolt.Tx, chains *bolt.Bucket, heads map[string]Head, rec Record, now time.Time, sign bool) (*Stored, error) {
	key, _ := l.cfg.Keys.Private(rec.Origin)
	b, err := chains.CreateBucketIfNotExists([]byte(rec.Origin))
	if err != nil {
		return nil, fmt.Errorf("create chain %s: %w", rec.Origin, err)
	}
	b.FillPercent = 1 // keys only ever grow: pack pages full
	s, err := seal(key, heads[rec.Origin], rec, now, l.cfg.Split, sign)
	if err != nil {
		return nil, err
	}
	if err := b.Put(seqKey(s.Seq), s.Raw); err != nil {
		return nil, fmt.Errorf("store %s: %w", s.ID(), err)
	}
	heads[rec.Origin] = Head{Seq: s.Seq, Hash: s.Hash}
	return s, nil
}

// Seal makes the entry that follows head in rec.Origin's chain: it encodes
// the body once, hashes those bytes and signs the hash with key. The ledger
// stores what it returns; tests and tools use it to make genuine chains
// without a ledger file. It never splits personal data out (SealSplit).
func Seal(key ed25519.PrivateKey, head Head, rec Record, now time.Time) (*Stored, error) {
	return SealSplit(key, head, rec, now, nil)
}

// SealSplit is Seal that, when m masks something in rec's payload, keeps
// the whole payload in the entry's private part, outside the hash, and the
// masked one in the body (private.go). The ledger seals through it with
// Config.Split, and so do the district's writers.
func SealSplit(key ed25519.PrivateKey, head Head, rec Record, now time.Time, m Masker) (*Stored, error) {
	return seal(key, head, rec, now, m, true)
}

// SealAppend seals recs (all of one origin, none a verbatim entry) as one
// atomic append after head, the way the ledger writes them: every entry
// hashed and linked, and signed only where signPlan says (the last, the
// ones around a key rotation, one every MaxUnsignedRun+1 in a long run).
// Tests and tools use it to make genuine chains without a ledger file.
func SealAppend(key ed25519.PrivateKey, head Head, recs []Record, now time.Time, m Masker) ([]*Stored, error) {
	sign := signPlan(recs)
	out := make([]*Stored, 0, len(recs))
	for i, rec := range recs {
		if rec.Origin != recs[0].Origin || rec.Raw != nil {
			return nil, fmt.Errorf("seal append: record %d: every record must be a new one of origin %s", i, recs[0].Origin)
		}
		s, err := seal(key, head, rec, now, m, sign[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		head = Head{Seq: s.Seq, Hash: s.Hash}
	}
	return out, nil
}

// signPlan says which of one append's records are signed: one signature
// per chain per append, on its last record there. Because every body
// holds prev_hash, that signature vouches through the hash links for the
// unsigned entries before it (DESIGN.md, "One signature per append").
// Also signed: a key rotation and the record just before it, so that an
// unsigned run never crosses a rotation and is signed by the key in force
// over it; and every record that follows MaxUnsignedRun unsigned ones, so
// an append of any size (an import) keeps within the verifier's bound.
// Verbatim records (Raw) are someone else's entries and get nothing.
func signPlan(recs []Record) []bool {
	sign := make([]bool, len(recs))
	if len(recs) == 1 {
		sign[0] = recs[0].Raw == nil
		return sign
	}
	type state struct{ prev, run int }
	chains := map[string]*state{}
	for i, r := range recs {
		if r.Raw != nil {
			continue
		}
		c := chains[r.Origin]
		if c == nil {
			c = &state{prev: -1}
			chains[r.Origin] = c
		}
		switch {
		case r.Type == sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION:
			if c.prev >= 0 {
				sign[c.prev] = true
			}
			sign[i], c.run = true, 0
		case c.run == MaxUnsignedRun:
			sign[i], c.run = true, 0
		default:
			c.run++
		}
		c.prev = i
	}
	for _, c := range chains {
		sign[c.prev] = true
	}
	return sign
}

// seal is SealSplit that leaves the signature out when sign is false: the
// entry is then vouched for by the next signed entry of its append.
func seal(key ed25519.PrivateKey, head Head, rec Record, now time.Time, m Masker, sign bool) (*Stored, error) {
	seq := head.Seq + 1
	public, private, digest, err := split(m, rec, now.UTC())
	if err != nil {
		return nil, err
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&sanziv1.EntryBody{
		Origin:        rec.Origin,
		Seq:           seq,
		PrevHash:      head.Hash[:],
		RecordedAt:    timestamppb.New(now),
		Author:        rec.Author,
		Type:          rec.Type,
		Payload:       public,
		Subject:       rec.Subject,
		PrivateDigest: digest,
	})
	if err != nil {
		return nil, fmt.Errorf("encode entry body: %w", err)
	}
	hash := sha256.Sum256(body)
	var sig []byte
	if sign {
		sig = ed25519.Sign(key, hash[:])
	}
	raw, err := proto.Marshal(&sanziv1.Entry{Body: body, Hash: hash[:], Signature: sig, Private: private})
	if err != nil {
		return nil, fmt.Errorf("encode entry: %w", err)
	}
	return &Stored{
		Origin: rec.Origin, Seq: seq, PrevHash: head.Hash, Hash: hash, RecordedAt: now,
		Author: rec.Author, Type: rec.Type, Payload: rec.Payload, PublicPayload: public, Digest: digest,
		Subject: rec.Subject, Raw: raw, Signature: sig,
	}, nil
}
