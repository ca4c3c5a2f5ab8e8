// Package checkpoint keeps the state a node derives from its chains (the
// supervision: procedures, stateful rules, rule sets, catalogs, the tier's
// view; the accounts) in the ledger's own bbolt file, with the chain
// positions it reflects, so that a start replays only the entries after
// them instead of every chain from seq 1 (issue 17).
//
// Why a checkpoint can be trusted, though it is written in its own bbolt
// transaction rather than in the one that appended the entries it covers:
//
//   - It is never ahead of the entries. The state it encodes was made only
//     from entries read back from the ledger, so every one was committed
//     before the checkpoint's transaction began; bbolt commits in order,
//     so no file state holds the checkpoint without them.
//   - It names each position by seq and by the hash of the entry there,
//     and Load checks that the ledger holds exactly that entry. An entry's
//     hash covers its prev_hash, so a match proves the whole chain up to
//     the position is the one the state was made from (a chain restored
//     from the parent, a ledger.db from a backup, a repair: any difference
//     at or before the position is a mismatch, and the state is rebuilt).
//   - A kill at any moment leaves the old checkpoint or the new one, never
//     a part: each is one value written in one bbolt transaction. Damage
//     after that (a bit flipped on disk) fails its CRC.
//   - Its stamp names the code version and the configuration the state was
//     derived under (rule set, catalog, calendar, tier); a checkpoint
//     another stamp wrote is not used, and the state is rebuilt once.
//
// Part of a state may live beside its checkpoint in buckets of its owner
// (the workflow's closed procedures, node/workflow's Archive, so that a
// start does not decode the closed history): Save writes it, and Drop
// clears it, in the checkpoint's own transaction, so that both always
// reflect the same positions.
//
// The owner of the state decides when to write one: only at a moment when
// its state is exactly what its chains say (nothing found but not yet
// recorded), so that replaying from it gives what replaying from seq 1
// would.
package checkpoint

import (
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/ledger"
)

// Errors of Load, wrap-compared with errors.Is; each means "rebuild by
// replaying the chains", and says why.
var (
	// ErrNone: no checkpoint of that name is stored.
	ErrNone = errors.New("checkpoint: none stored")
	// ErrStale: stored by another code version or configuration.
	ErrStale = errors.New("checkpoint: written by another code version or configuration")
	// ErrInconsistent: a position it names is not an entry the ledger
	// holds (the chain was restored, repaired or replaced since).
	ErrInconsistent = errors.New("checkpoint: does not match the chains")
	// ErrDamaged: its bytes fail their checksum or do not decode.
	ErrDamaged = errors.New("checkpoint: damaged")
)

var bucket = []byte("checkpoints")

// magic opens every stored checkpoint; the byte after it is the layout of
// the envelope (not of the state, which the stamp covers).
const magic = "sanzi-checkpoint\x01"

// Store keeps named checkpoints in a ledger's bbolt file.
type Store struct {
	db *bolt.DB
}

// New is the store in l's file.
func New(l *ledger.Ledger) *Store { return &Store{db: l.DB()} }

// Positions are the chain heads a state reflects, by origin.
type Positions map[string]ledger.Head

// Entries is how many entries the positions cover in all.
func (p Positions) Entries() uint64 {
	var n uint64
	for _, h := range p {
		n += h.Seq
	}
	return n
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DB is the bbolt file the checkpoints are kept in, for state kept beside
// a checkpoint in its own buckets (Save's also).
func (s *Store) DB() *bolt.DB { return s.db }

// Save stores state under name, made under stamp from the chains up to at,
// replacing the one stored before, in one transaction; also writes, in the
// same transaction, the part of the state its owner keeps in buckets of
// its own (the workflow's archive of closed procedures), so that the two
// always reflect the same positions.
func (s *Store) Save(name, stamp string, at Positions, state []byte, also ...func(*bolt.Tx) error) error {
	var e Encoder
	e.buf = make([]byte, 0, len(state)+len(magic)+64+len(at)*64)
	e.buf = append(e.buf, magic...)
	e.String(stamp)
	e.Uint(uint64(len(at)))
	for _, o := range slices.Sorted(maps.Keys(at)) {
		h := at[o]
		e.String(o)
		e.Uint(h.Seq)
		e.Bytes(h.Hash[:])
	}
	e.Uint(uint64(crc32.Checksum(state, castagnoli)))
	e.Bytes(state)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		for _, f := range also {
			if err := f(tx); err != nil {
				return err
			}
		}
		return b.Put([]byte(name), e.buf)
	})
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", name, err)
	}
	return nil
}

// Load returns the state stored under name and the positions it reflects,
// after checking that stamp wrote it, that the ledger holds the entry at
// every position, and its checksum. The state is a copy, the caller's.
func (s *Store) Load(name, stamp string) (Positions, []byte, error) {
	var at Positions
	var state []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return ErrNone
		}
		v := b.Get([]byte(name))
		if v == nil {
			return ErrNone
		}
		if len(v) < len(magic) || string(v[:len(magic)]) != magic {
			return fmt.Errorf("%w: unknown envelope", ErrDamaged)
		}
		d := NewDecoder(v[len(magic):])
		if got := d.String(); d.Err() == nil && got != stamp {
			return fmt.Errorf("%w: stamp %q, this node derives %q", ErrStale, got, stamp)
		}
		n := d.Len()
		at = make(Positions, n)
		for range n {
			o := d.String()
			var h ledger.Head
			h.Seq = d.Uint()
			copy(h.Hash[:], d.Bytes())
			at[o] = h
		}
		sum := uint32(d.Uint())
		raw := d.Bytes()
		if err := d.Err(); err != nil {
			return fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		if crc32.Checksum(raw, castagnoli) != sum {
			return fmt.Errorf("%w: checksum does not match", ErrDamaged)
		}
		for _, o := range slices.Sorted(maps.Keys(at)) {
			h := at[o]
			st, err := ledger.GetTx(tx, o, h.Seq)
			if errors.Is(err, ledger.ErrNotFound) {
				return fmt.Errorf("%w: it reflects %s, which the ledger does not hold", ErrInconsistent, ledger.EntryID(o, h.Seq))
			}
			if err != nil {
				return err
			}
			if st.Hash != h.Hash {
				return fmt.Errorf("%w: the ledger's %s is not the entry it reflects", ErrInconsistent, st.ID())
			}
		}
		state = append([]byte(nil), raw...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load checkpoint %s: %w", name, err)
	}
	return at, state, nil
}

// Drop forgets the checkpoint under name, so that the next start replays
// the chains from seq 1 (a benchmark's "before", a test, a state rebuilt),
// and runs also in the same transaction (what its owner keeps beside it,
// cleared with it).
func (s *Store) Drop(name string, also ...func(*bolt.Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, f := range also {
			if err := f(tx); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucket); b != nil {
			return b.Delete([]byte(name))
		}
		return nil
	})
}

// Build names the code that derives a state: the version control revision
// the binary was built from, when it says (a release, `go build` in a
// checkout), so that an upgrade rebuilds every checkpoint once rather than
// trust one that an older rule or procedure made. Owners add a version of
// their own for changes between revisions (a test binary says none).
func Build() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+modified"
			}
		}
	}
	if rev == "" {
		return info.Main.Version
	}
	return rev + dirty
}
