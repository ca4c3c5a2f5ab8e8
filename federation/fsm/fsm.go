// Package fsm is the district cluster's Raft state machine (DESIGN.md, "The
// district cluster"). It applies committed commands to one bbolt file that
// holds every origin's chain, the origins' keys, the members, a feed of what
// each Raft index added (for the analytics loader) and the loader's index.
//
// The FSM is thin: it decodes the envelope and hands each command to an
// applier working in one write transaction per batch (BatchingFSM: one fsync
// per batch). The leader verified signatures before proposing, so applying
// only checks that each entry continues its chain: deterministic and cheap.
// The applied index is stored with the data, so restarts with raft's
// NoSnapshotRestoreOnStart, and any replay, skip what the file holds. Chains
// use the ledger's layout, so ledger.Verify checks a state file too.
package fsm

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Bucket and key names of the state file. chains matches node/ledger.
var (
	bucketChains  = []byte("chains")
	bucketKeys    = []byte("keys")
	bucketCerts   = []byte("certs")
	bucketMembers = []byte("members")
	bucketFeed    = []byte("feed")
	bucketMeta    = []byte("meta")
	keyApplied    = []byte("applied")
	keyLoaded     = []byte("loaded")
)

// ErrClosed is returned by reads after Close, so callers can tell a shut-down
// FSM from an empty one.
var ErrClosed = errors.New("fsm: closed")

// Config sets up an FSM.
type Config struct {
	// Path of the bbolt state file; created if missing.
	Path string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// NoSync turns off fsync of applies, for throw-away tests and
	// benchmarks: the Raft log is then the only durable copy.
	NoSync bool
	// Named appends to dst the attachments an entry's payload of type t
	// names, as slices of payload, and fails when the payload cannot be
	// read (entries.AttachmentsIn); an attachment an applied entry names
	// is locked and never expires. Nil: no entry names any, and nothing
	// expires by ExpireAttachments either (see expire.go).
	Named NamedFunc
}

// NamedFunc lists what a payload names (Config.Named). It is given the
// payload the apply has already peeked, not the encoded entry: peeking it
// again was a third of the cost per entry on every member (issue 17).
type NamedFunc func(t sanziv1.EntryType, payload []byte, dst [][]byte) ([][]byte, error)

// FSM is the cluster's state machine over one bbolt file. Apply, ApplyBatch,
// Snapshot and Restore are called by raft from one goroutine; every read
// method is safe to call concurrently with them.
type FSM struct {
	cfg Config
	log *slog.Logger

	dbMu sync.RWMutex // guards db: Restore swaps the file under the write lock
	db   *bolt.DB

	mu      sync.RWMutex // guards the caches, which mirror committed state
	heads   map[string]ledger.Head
	keys    map[string]ed25519.PublicKey
	ks      keyState // keys.go
	applied atomic.Uint64
	loaded  atomic.Uint64
	// checkpointed is the newest checkpoint (checkpoints.go); nil: not
	// read yet since Open or Restore, or none.
	checkpointed *checkpoint.Signed
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
	_ ledger.KeyRing   = (*FSM)(nil)
)

// Open opens (or creates) the state file at cfg.Path and loads the cached
// heads, keys and indexes from it.
func Open(cfg Config) (*FSM, error) {
	if cfg.Path == "" {
		return nil, errors.New("fsm config: Path is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &FSM{cfg: cfg, log: cfg.Logger}
	db, err := f.openDB()
	if err != nil {
		return nil, err
	}
	f.db = db
	return f, nil
}

// statePageSize is the page size of a new state file (an existing file
// keeps the one it was made with). An apply appends a Raft log's thousands
// of entries to their chains, and bbolt writes each dirty page with its own
// pwrite at commit: with 4 KiB pages a batch of 1,000 entries of 300 bytes
// was some 80 writes on every member, with 16 KiB a quarter of that, and a
// quarter of the pages to split and allocate.
const statePageSize = 16 << 10

// openDB opens Path with its buckets and loads the caches from it; used at
// Open and after Restore.
func (f *FSM) openDB() (*bolt.DB, error) {
	db, err := bolt.Open(f.cfg.Path, 0o600, &bolt.Options{
		Timeout:        2 * time.Second,
		NoSync:         f.cfg.NoSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		PageSize:       statePageSize,
	})
	if err != nil {
		return nil, fmt.Errorf("open fsm state %s: %w", f.cfg.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketChains, bucketKeys, bucketCerts, bucketMembers, bucketFeed, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open fsm state %s: create buckets: %w", f.cfg.Path, err)
	}
	if err := f.load(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// load rebuilds the in-memory caches from db.
func (f *FSM) load(db *bolt.DB) error {
	heads := map[string]ledger.Head{}
	keys := map[string]ed25519.PublicKey{}
	var applied, loaded uint64
	var ks keyState
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		if ks, err = loadKeyState(tx); err != nil {
			return err
		}
		err = tx.Bucket(bucketChains).ForEachBucket(func(name []byte) error {
			h, err := lastHead(tx.Bucket(bucketChains).Bucket(name), string(name))
			heads[string(name)] = h
			return err
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			keys[string(k)] = ed25519.PublicKey(append([]byte(nil), v...))
			return nil
		})
		meta := tx.Bucket(bucketMeta)
		applied, loaded = getUint(meta, keyApplied), getUint(meta, keyLoaded)
		return err
	})
	if err != nil {
		return fmt.Errorf("load fsm state %s: %w", f.cfg.Path, err)
	}
	f.mu.Lock()
	f.heads, f.keys, f.ks = heads, keys, ks
	f.checkpointed = nil // read again on demand (LatestCheckpoint)
	f.mu.Unlock()
	f.applied.Store(applied)
	f.loaded.Store(loaded)
	return nil
}

// lastHead reads the newest entry of a chain bucket (nil: empty chain).
func lastHead(b *bolt.Bucket, origin string) (ledger.Head, error) {
	if b == nil {
		return ledger.Head{}, nil
	}
	k, raw := b.Cursor().Last()
	if k == nil {
		return ledger.Head{}, nil
	}
	h := ledger.Head{Seq: binary.BigEndian.Uint64(k)}
	l, err := ledger.Peek(raw)
	if err != nil {
		return h, fmt.Errorf("stored entry %s: %w", ledger.EntryID(origin, h.Seq), err)
	}
	h.Hash = l.Hash
	return h, nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// view runs fn in a read transaction, holding the handle against a Restore.
func (f *FSM) view(fn func(*bolt.Tx) error) error {
	f.dbMu.RLock()
	defer f.dbMu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	return f.db.View(fn)
}

// View runs fn in a read transaction of the state file, holding the handle
// against a Restore meanwhile: a backup of a running member
// (federation/member) copies the file as of one commit this way.
func (f *FSM) View(fn func(*bolt.Tx) error) error { return f.view(fn) }

// Close closes the state file. The caches stay readable (Head, Public) but
// reads of the file return ErrClosed.
func (f *FSM) Close() error {
	f.dbMu.Lock()
	defer f.dbMu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// Path is the state file, for tools such as ledger.Verify.
func (f *FSM) Path() string { return f.cfg.Path }

// AppliedIndex is the highest Raft index applied, persisted with the data;
// raft replays at or below it are skipped.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// LoadedIndex is the Raft index through which the analytics loader has
// written to ClickHouse, so a new leader resumes after it.
func (f *FSM) LoadedIndex() uint64 { return f.loaded.Load() }

// Head returns the newest entry of origin's chain from memory, so the leader
// can check a push's link before proposing it without a disk read.
func (f *FSM) Head(origin string) ledger.Head {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.heads[origin]
}

// Heads returns a copy of every origin's head, for status and sync replies.
func (f *FSM) Heads() map[string]ledger.Head {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]ledger.Head, len(f.heads))
	for o, h := range f.heads {
		out[o] = h
	}
	return out
}

// Certificate is the DER certificate of the key origin's chain is signed
// with at its head: the one its key was registered with, replaced by each
// key rotation's (FirstCertificate keeps the registered one then); nil when
// none.
func (f *FSM) Certificate(origin string) []byte {
	var out []byte
	f.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCerts); b != nil {
			out = append([]byte(nil), b.Get([]byte(origin))...)
		}
		return nil
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// Public returns origin's registered key, so every member verifies pushes
// with the same keys and *FSM serves as a ledger.KeyRing.
func (f *FSM) Public(origin string) (ed25519.PublicKey, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	k, ok := f.keys[origin]
	return k, ok
}

// Private always reports false: the cluster signs for no origin; it exists
// only to complete ledger.KeyRing.
func (f *FSM) Private(string) (ed25519.PrivateKey, bool) { return nil, false }

// Range calls fn for origin's entries from seq from on, in order, until fn
// returns false or limit entries were read (limit <= 0: no limit), so the
// API can page through a chain. fn runs inside a read transaction and must
// not call back into the FSM.
func (f *FSM) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	return f.scan(bucketChains, []byte(origin), from, limit, func(k, v []byte) (bool, error) {
		s, err := ledger.Decode(append([]byte(nil), v...))
		if err != nil {
			return false, fmt.Errorf("read %s: %w", ledger.EntryID(origin, binary.BigEndian.Uint64(k)), err)
		}
		return fn(s), nil
	})
}

// Feed calls fn, in ascending index order, for the feed records of Raft
// indexes above after, until fn returns false or limit records were read
// (limit <= 0: no limit): what the analytics loader loads next. fn runs
// inside a read transaction and must not call back into the FSM.
func (f *FSM) Feed(after uint64, limit int, fn func(index uint64, rec *clusterv1.FeedRecord) bool) error {
	if after == ^uint64(0) {
		return nil
	}
	return f.scan(bucketFeed, nil, after+1, limit, func(k, v []byte) (bool, error) {
		rec := &clusterv1.FeedRecord{}
		if err := proto.Unmarshal(v, rec); err != nil {
			return false, fmt.Errorf("read feed record %d: %w", binary.BigEndian.Uint64(k), err)
		}
		return fn(binary.BigEndian.Uint64(k), rec), nil
	})
}

// scan walks bucket top (or its sub-bucket sub) from key from, up to limit.
func (f *FSM) scan(top, sub []byte, from uint64, limit int, fn func(k, v []byte) (bool, error)) error {
	return f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(top)
		if sub != nil {
			if b = b.Bucket(sub); b == nil {
				return nil
			}
		}
		c, n := b.Cursor(), 0
		for k, v := c.Seek(u64(from)); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
			more, err := fn(k, v)
			if err != nil || !more {
				return err
			}
			n++
		}
		return nil
	})
}

// Members lists the cluster members by id, so followers can find the
// leader's API address. It returns nil if the file cannot be read.
func (f *FSM) Members() []*clusterv1.Member {
	var out []*clusterv1.Member
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMembers).ForEach(func(_, v []byte) error {
			m := &clusterv1.Member{}
			if err := proto.Unmarshal(v, m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		f.log.Error("read cluster members", "err", err)
		return nil
	}
	return out
}

// Digest is SHA-256 over the replicated state in key order: every chain
// entry (and so every head), key, member, feed record and the loaded index,
// so tests and operators can compare replicas. It leaves out the applied
// index, which legitimately differs between a member that installed a
// snapshot and one that replayed the same logs.
func (f *FSM) Digest() ([32]byte, error) {
	h := sha256.New()
	put := func(p []byte) { h.Write(protowire.AppendBytes(nil, p)) } // length-prefixed
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			put(k)
			if v == nil { // a chain's bucket
				return walk(b.Bucket(k))
			}
			put(v)
			return nil
		})
	}
	var sum [32]byte
	err := f.view(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketChains, bucketKeys, bucketMembers, bucketFeed, bucketCurrent, bucketRevoked, bucketCheckpoints} {
			if tx.Bucket(name) == nil {
				continue // made by the first rotation or revocation
			}
			put(name)
			if err := walk(tx.Bucket(name)); err != nil {
				return err
			}
		}
		put(u64(getUint(tx.Bucket(bucketMeta), keyLoaded)))
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("digest fsm state: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// RangeRaw is Range without decoding: fn gets each entry's seq and its
// encoded sanzi.v1.Entry, which is the read transaction's memory, valid
// only during the call (copy what is kept). The analytics loader reads
// only some of an entry's fields, and ledger.Decode of every field was
// most of its CPU.
func (f *FSM) RangeRaw(origin string, from uint64, limit int, fn func(seq uint64, raw []byte) bool) error {
	return f.scan(bucketChains, []byte(origin), from, limit, func(k, v []byte) (bool, error) {
		return fn(binary.BigEndian.Uint64(k), v), nil
	})
}
