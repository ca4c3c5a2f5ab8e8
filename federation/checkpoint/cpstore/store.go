package cpstore

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
)

// bucketStore is the top bucket of a Store's file.
var bucketStore = []byte("checkpoints")

// Store is a town's copy of the district's signed checkpoints, which it
// pulls to serve its villages' public site (issue 15: "and by a town for
// its villages when asked to"). A checkpoint is kept only when its
// signature verifies with the district chain's key, it follows the newest
// one kept (checkpoint.Follows), and every head it signs of a chain the
// town holds is the hash the town holds at that seq: a district that
// showed the town another history than the one its villages wrote is
// refused, not served.
type Store struct {
	db     *bolt.DB
	hashAt checkpoint.HashAt
	mu     sync.RWMutex
	latest *checkpoint.Signed // nil: none kept yet
}

// Open opens (or makes) the store's file at path. hashAt reads the
// town's own copy of the chains: false for a chain or seq it does not
// hold, which is then not checked (the district holds every town's
// villages; this town only its own).
func Open(path string, hashAt checkpoint.HashAt, noSync bool) (*Store, error) {
	if hashAt == nil {
		return nil, errors.New("checkpoint store: the town's view of its chains (hashAt) is required")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("open checkpoint store %s: %w", path, err)
	}
	s := &Store{db: db, hashAt: hashAt}
	err = db.Update(func(tx *bolt.Tx) error {
		cps, err := tx.CreateBucketIfNotExists(bucketStore)
		if err != nil {
			return err
		}
		if n := Latest(cps); n > 0 {
			s.latest, err = At(cps, n)
		}
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read checkpoint store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Next is the number of the checkpoint the store takes next.
func (s *Store) Next() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.latest == nil {
		return 1
	}
	return s.latest.Statement.Number + 1
}

// Add checks checkpoint text, signed sig, with the district chain's key
// pub and keeps it. It must be the next one (Next); one already kept is
// taken again only with the same text (a repeat of a pull), another text
// under its number is a contradiction. The error wraps
// checkpoint.ErrSignature, ErrContradiction, ErrSequence or ErrMalformed
// when the checkpoint is refused, for the caller to log and count.
func (s *Store) Add(text, sig []byte, pub ed25519.PublicKey) (*checkpoint.Signed, error) {
	next, err := checkpoint.Open(text, sig, pub)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var prev *checkpoint.Statement
	if s.latest != nil {
		prev = s.latest.Statement
	}
	if prev != nil && next.Statement.Number <= prev.Number {
		kept, err := s.checkpoint(next.Statement.Number)
		if err != nil {
			return nil, err
		}
		if kept == nil || !bytes.Equal(kept.Text, text) {
			return nil, fmt.Errorf("%w: checkpoint %d differs from the one kept with that number", checkpoint.ErrContradiction, next.Statement.Number)
		}
		return kept, nil
	}
	if err := checkpoint.Follows(prev, next.Statement, nil); err != nil {
		return nil, err
	}
	for _, h := range next.Statement.Heads {
		held, ok, err := s.hashAt(h.Origin, h.Seq)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", ledger.EntryID(h.Origin, h.Seq), err)
		}
		if ok && held != h.Hash {
			return nil, fmt.Errorf("%w: checkpoint %d signs %s with hash %x, and this town holds %x there", checkpoint.ErrContradiction,
				next.Statement.Number, ledger.EntryID(h.Origin, h.Seq), h.Hash[:8], held[:8])
		}
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return Put(tx.Bucket(bucketStore), next.Statement, checkpoint.Delta(prev, next, pub))
	})
	if err != nil {
		return nil, fmt.Errorf("keep checkpoint %d: %w", next.Statement.Number, err)
	}
	s.latest = next
	return next, nil
}

// LatestCheckpoint is the newest checkpoint kept, nil when none.
func (s *Store) LatestCheckpoint() (*checkpoint.Signed, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.latest, nil
}

// Checkpoint is checkpoint n, nil when none is kept.
func (s *Store) Checkpoint(n uint64) (*checkpoint.Signed, error) {
	return s.checkpoint(n)
}

func (s *Store) checkpoint(n uint64) (*checkpoint.Signed, error) {
	var out *checkpoint.Signed
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = At(tx.Bucket(bucketStore), n)
		return err
	})
	return out, err
}

// CheckpointCovering is the first checkpoint kept whose head of origin is
// at or after seq, and that head; 0 when none yet.
func (s *Store) CheckpointCovering(origin string, seq uint64) (uint64, checkpoint.Head, error) {
	var n uint64
	var head checkpoint.Head
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, head, err = Covering(tx.Bucket(bucketStore), origin, seq)
		return err
	})
	return n, head, err
}
