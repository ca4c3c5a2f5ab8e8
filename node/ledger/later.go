package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkChunk is how many entries one read transaction of the deferred
// check walks: short transactions, so that a write needing the file to
// grow (bbolt remaps it only with no reader open) waits a moment at most.
const checkChunk = 32_768

// openHeads reads each chain's head from its newest stored entry, for an
// Open that checks the chains later (Config.CheckLater).
func (l *Ledger) openHeads() error {
	return l.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketChains).ForEachBucket(func(name []byte) error {
			k, raw := tx.Bucket(bucketChains).Bucket(name).Cursor().Last()
			if k == nil {
				return nil
			}
			h := Head{Seq: keySeq(k)}
			if s, err := Peek(raw); err == nil {
				h.Hash = s.Hash
			}
			l.heads[string(name)] = h
			return nil
		})
	})
}

// CheckChains starts, once, the check of every chain that Open left for
// later (Config.CheckLater), in the background: the node calls it once
// it is up, so that the check does not compete with its start for the
// processors. Checked is closed when it ends.
func (l *Ledger) CheckChains() {
	l.checkOnce.Do(func() {
		if l.toCheck == nil {
			close(l.checked)
			return
		}
		go l.checkLater(l.toCheck)
	})
}

// checkLater is checkChains run after Open returned: every chain as it
// stood at open, links and hashes of every entry and the signature of the
// newest, in short read transactions; a chain that fails is marked broken
// from then on (it refuses writes, /readyz says so). It ends early when
// the ledger closes.
func (l *Ledger) checkLater(heads map[string]Head) {
	defer close(l.checked)
	t0 := time.Now()
	var n uint64
	for origin, head := range heads {
		c, err := l.checkChain(origin, head)
		n += c
		var ve *VerifyError
		switch {
		case errors.As(err, &ve):
			l.mu.Lock()
			l.broken[origin] = ve
			l.mu.Unlock()
			l.log.Error("chain failed verification; refusing new entries for this origin until it is repaired", "origin", origin, "seq", ve.Seq, "problem", ve.Problem)
		case errors.Is(err, errStopped):
			return
		case err != nil:
			l.log.Error("chain could not be checked", "origin", origin, "err", err)
		}
		l.release(origin)
	}
	l.log.Info("every chain checked", "chains", len(heads), "entries", n, "took", time.Since(t0).Round(time.Millisecond))
}

var errStopped = errors.New("ledger: closing")

// waitChecked waits, for a write to origin's chain, until the deferred
// check (CheckLater) has passed that chain, starting it if the node did
// not; a chain it found broken is then refused by unbroken.
func (l *Ledger) waitChecked(ctx context.Context, origin string) error {
	ch, ok := l.unchecked[origin]
	if !ok {
		return nil
	}
	select {
	case <-ch:
		return nil
	default:
	}
	l.CheckChains()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("append to %s: waiting for the check of its stored entries: %w", origin, ctx.Err())
	}
}

// release lets the writes waiting for origin's check go on.
func (l *Ledger) release(origin string) {
	l.uncheckedMu.Lock()
	defer l.uncheckedMu.Unlock()
	if ch, ok := l.unchecked[origin]; ok && !l.released[origin] {
		l.released[origin] = true
		close(ch)
	}
}

// checkChain checks origin's chain up to head, as verifyBucket does.
func (l *Ledger) checkChain(origin string, head Head) (uint64, error) {
	pub, ok := l.cfg.Keys.Public(origin)
	if !ok {
		return 0, &VerifyError{Origin: origin, Seq: 1, Problem: "no public key for this origin"}
	}
	v := NewChainVerifier(origin, pub, 1, [HashSize]byte{}, false).WithKeys(KeyOptions{CheckCert: l.cfg.CheckCert}).WithPrivate(PrivateOptions{Masker: l.cfg.Split})
	var n uint64
	for next := uint64(1); next <= head.Seq; {
		select {
		case <-l.stopCheck:
			return n, errStopped
		default:
		}
		err := l.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketChains).Bucket([]byte(origin))
			if b == nil {
				return &VerifyError{Origin: origin, Seq: next, Problem: "chain removed while being checked"}
			}
			c := b.Cursor()
			i := 0
			for k, raw := c.Seek(seqKey(next)); k != nil && keySeq(k) <= head.Seq && i < checkChunk; k, raw = c.Next() {
				if _, err := v.Next(keySeq(k), raw); err != nil {
					return err
				}
				next, n, i = keySeq(k)+1, n+1, i+1
			}
			if i == 0 {
				return &VerifyError{Origin: origin, Seq: next, Problem: "entry missing"}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	_, err := v.Finish()
	return n, err
}

// Checked is closed once the check of every chain at open is done: at
// once when Open checked them itself, after CheckChains started it with
// Config.CheckLater.
func (l *Ledger) Checked() <-chan struct{} { return l.checked }
