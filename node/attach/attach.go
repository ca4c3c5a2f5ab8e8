// Package attach stores receipts, contract scans and minutes by the SHA-256
// of their content. The content lives in files (one per hash, written whole
// or not at all); the description and the lock live in the ledger's bbolt
// file, so that an entry naming an attachment and the lock it takes are
// written in one transaction. Once locked, an attachment can never be
// replaced or removed: the trail must keep what the entry points at.
package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Errors of the attachment store; compare with errors.Is.
var (
	// ErrNotFound: no attachment with that hash on this node.
	ErrNotFound = errors.New("attach: not found")
	// ErrLocked: an entry names the attachment, so it cannot be removed.
	ErrLocked = errors.New("attach: locked")
	// ErrTooLarge: the content is over the size limit.
	ErrTooLarge = errors.New("attach: too large")
	// ErrHashMismatch: content does not hash to the name it was given or
	// stored under (on read: the file was changed on disk).
	ErrHashMismatch = errors.New("attach: content does not match its hash")
	// ErrBadHash: the name is not 64 lowercase hex digits.
	ErrBadHash = errors.New("attach: not a SHA-256 in lowercase hex")
)

var bucket = []byte("attachments")

// DefaultMaxSize is the default size limit (16 MiB): enough for a phone photo
// of a receipt or a scanned contract, small enough for a village uplink.
const DefaultMaxSize = 16 << 20

// Store keeps attachment files under dir and their descriptions in db.
type Store struct {
	mu      sync.Mutex // orders Put and Delete of the same file
	dir     string
	db      *bolt.DB
	maxSize int64
	now     func() time.Time
	pol     policy
}

// Open prepares a store; maxSize <= 0 means DefaultMaxSize.
func Open(dir string, db *bolt.DB, maxSize int64, now func() time.Time) (*Store, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create attachment folder %s: %w", dir, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create attachment bucket: %w", err)
	}
	return &Store{dir: dir, db: db, maxSize: maxSize, now: now}, nil
}

// MaxSize is the size limit in bytes.
func (s *Store) MaxSize() int64 { return s.maxSize }

// ValidHash reports whether h is 64 lowercase hex digits.
func ValidHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) path(h string) string { return filepath.Join(s.dir, h[:2], h) }

// Put stores content; storing the same content again returns the existing
// description unchanged. expected, when not empty, must equal the hash.
func (s *Store) Put(content []byte, fileName, contentType, expected string) (*sanziv1.Attachment, error) {
	if int64(len(content)) > s.maxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d bytes", ErrTooLarge, len(content), s.maxSize)
	}
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	if err := hashIs(h, expected); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(content, h, fileName, contentType, "")
}

// PutFrom stores the content read from r, as Put does, without holding it
// in memory: it is copied in pieces to a temporary file under the store's
// folder while being hashed, refused with ErrTooLarge as soon as it passes
// the size limit (having read at most one byte more), synced, and renamed
// to its hash. Content already stored returns the existing description and
// leaves nothing behind; so does any failure (reading r, the limit, a hash
// other than expected). ctx ending before the content is stored abandons it.
func (s *Store) PutFrom(ctx context.Context, r io.Reader, fileName, contentType, expected string) (*sanziv1.Attachment, error) {
	f, err := createTemp(s.dir)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	defer f.Close()           // likewise once committed
	sum := sha256.New()
	size, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(r, s.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the attachment: %w", err)
	}
	if size > s.maxSize {
		return nil, fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, s.maxSize)
	}
	h := hex.EncodeToString(sum.Sum(nil))
	if err := hashIs(h, expected); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store attachment %s: %w", h, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, err := s.Describe(h); err == nil {
		return a, nil
	}
	if err := commit(f, s.path(h)); err != nil {
		return nil, err
	}
	return s.record(h, size, fileName, contentType, "")
}

// hashIs checks content hashing to h against the hash the client expected
// (none when empty).
func hashIs(h, expected string) error {
	if expected != "" && expected != h {
		return fmt.Errorf("%w: content hashes to %s, not %s", ErrHashMismatch, h, expected)
	}
	return nil
}

// put stores content under its hash h, charged to origin when not empty;
// s.mu is held.
func (s *Store) put(content []byte, h, fileName, contentType, origin string) (*sanziv1.Attachment, error) {
	if a, err := s.Describe(h); err == nil {
		return a, nil
	}
	if err := writeWhole(s.path(h), content); err != nil {
		return nil, err
	}
	return s.record(h, int64(len(content)), fileName, contentType, origin)
}

// record describes the file stored under h (size bytes), charged to origin
// when not empty; a description already there (a concurrent upload of the
// same content won) is kept and returned. s.mu is held.
func (s *Store) record(h string, size int64, fileName, contentType, origin string) (*sanziv1.Attachment, error) {
	a := &sanziv1.Attachment{
		Sha256: h, Size: size, ContentType: contentType, FileName: fileName,
		UploadedAt: timestamppb.New(s.now().UTC()),
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if old := b.Get([]byte(h)); old != nil {
			return proto.Unmarshal(old, a) // a concurrent upload won; keep its description
		}
		raw, err := proto.Marshal(a)
		if err != nil {
			return err
		}
		if origin != "" {
			if err := charge(tx, h, origin, a.GetSize()); err != nil {
				return err
			}
		}
		return b.Put([]byte(h), raw)
	})
	if err != nil {
		return nil, fmt.Errorf("record attachment %s: %w", h, err)
	}
	return a, nil
}

// writeWhole writes data to path through a temporary file and a rename, with
// fsyncs, so a crash leaves the old state or the whole file.
func writeWhole(path string, data []byte) error {
	f, err := createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("store attachment: %w", err)
	}
	return commit(f, path)
}

// createTemp opens a new temporary file in dir (made if missing), for
// content that commit then moves into place. A temporary name starts with
// a dot, so it is never taken for a stored hash.
func createTemp(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store attachment: %w", err)
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return nil, fmt.Errorf("store attachment: %w", err)
	}
	return f, nil
}

// commit syncs and closes the temporary file f and renames it to path, then
// syncs path's folder, so that a crash leaves either nothing or the whole
// file under its name. f is closed whatever happens; on error the caller
// removes it.
func commit(f *os.File, path string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store attachment: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	defer d.Close()
	return d.Sync()
}

// Describe returns the description of attachment h.
func (s *Store) Describe(h string) (*sanziv1.Attachment, error) {
	var a *sanziv1.Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = DescribeTx(tx, h)
		return err
	})
	return a, err
}

// DescribeTx returns the description of attachment h inside tx.
func DescribeTx(tx *bolt.Tx, h string) (*sanziv1.Attachment, error) {
	if !ValidHash(h) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, h)
	}
	raw := tx.Bucket(bucket).Get([]byte(h))
	if raw == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, h)
	}
	var a sanziv1.Attachment
	if err := proto.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("decode attachment %s: %w", h, err)
	}
	return &a, nil
}

// LockTx marks h as named by entry id (the first such entry keeps the lock).
// It runs inside the ledger transaction that writes the entry.
func LockTx(tx *bolt.Tx, h, id string) error {
	a, err := DescribeTx(tx, h)
	if err != nil {
		return err
	}
	if a.LockedBy != "" {
		return nil
	}
	a.LockedBy = id
	raw, err := proto.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attachment %s: %w", h, err)
	}
	return tx.Bucket(bucket).Put([]byte(h), raw)
}

// Get returns the description and the content, after checking that the
// content on disk still hashes to its name.
func (s *Store) Get(h string) (*sanziv1.Attachment, []byte, error) {
	a, err := s.Describe(h)
	if err != nil {
		return nil, nil, err
	}
	content, err := s.read(h)
	if err != nil {
		return nil, nil, err
	}
	return a, content, nil
}

func (s *Store) read(h string) ([]byte, error) { return readVerified(s.path(h), h, s.maxSize) }

// readVerified reads the file at path (at most limit+1 bytes when limit >= 0)
// and checks it hashes to h.
func readVerified(path, h string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read attachment %s: %w", h, err)
	}
	defer f.Close()
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit+1)
	}
	content, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read attachment %s: %w", h, err)
	}
	sum := sha256.Sum256(content)
	if hex.EncodeToString(sum[:]) != h {
		return nil, fmt.Errorf("%w: file of %s was changed on disk", ErrHashMismatch, h)
	}
	return content, nil
}

// Delete removes an attachment that no entry names; a locked one is refused
// with ErrLocked naming the entry that holds it.
func (s *Store) Delete(h string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := DescribeTx(tx, h)
		if err != nil {
			return err
		}
		if a.LockedBy != "" {
			return fmt.Errorf("%w: entry %s names %s, and the trail must keep what its entries point at", ErrLocked, a.LockedBy, h)
		}
		if err := uncharge(tx, h, a.GetSize()); err != nil {
			return err
		}
		return tx.Bucket(bucket).Delete([]byte(h))
	})
	if err != nil {
		return err
	}
	if err := os.Remove(s.path(h)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove attachment file %s: %w", h, err)
	}
	return nil
}

// Problem is one attachment that failed Check.
type Problem struct {
	Hash     string `json:"hash"`
	LockedBy string `json:"lockedBy"`
	Problem  string `json:"problem"`
}

// Check reads every locked attachment described in the ledger file at
// ledgerPath (a stopped node's: it is opened read-only, see ledger.View)
// from the files under dir and reports those missing or changed, and how
// many it checked. It only reads: `sanzi verify` runs it.
func Check(ledgerPath, dir string) ([]Problem, int, error) {
	var locked []*sanziv1.Attachment
	err := ledger.View(ledgerPath, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var a sanziv1.Attachment
			if err := proto.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode attachment %s: %w", k, err)
			}
			if a.LockedBy != "" {
				locked = append(locked, &a)
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, err
	}
	var out []Problem
	for _, a := range locked {
		if _, err := readVerified(filepath.Join(dir, a.Sha256[:2], a.Sha256), a.Sha256, -1); err != nil {
			out = append(out, Problem{Hash: a.Sha256, LockedBy: a.LockedBy, Problem: err.Error()})
		}
	}
	return out, len(locked), nil
}
