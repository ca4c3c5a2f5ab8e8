package attach

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Storage is bounded two ways. An attachment that no entry names expires:
// it was uploaded for an entry that was never recorded (or was refused),
// and nothing in the trail points at it; after the TTL a sweep removes it.
// A named one is locked (LockTx) and never expires. And where children send
// attachments up (a town), each origin has a quota on what it keeps there,
// locked or not; past it a new attachment is refused with ErrQuota naming
// the origin, the quota and the use.
var (
	bucketOrigin = []byte("attachment_origin") // hash → origin it is charged to
	bucketUsage  = []byte("attachment_usage")  // origin → bytes held (uint64)
)

// ErrQuota: the origin's attachments would pass its storage quota.
var ErrQuota = errors.New("attach: storage quota exceeded")

// Defaults of Policy.
const (
	// DefaultTTL: a week is long enough for an accountant to upload the
	// receipts on Monday and record the entries by Friday.
	DefaultTTL = 7 * 24 * time.Hour
	// DefaultQuota: 10 GiB per origin is some 5,000 phone photos a year
	// for a decade, and far more than a village's honest use.
	DefaultQuota = 10 << 30
)

// Policy sets expiry and quota; zero fields take the defaults.
type Policy struct {
	// TTL after which an attachment no entry names is removed.
	TTL time.Duration
	// Quota is the bytes each origin may keep here (see AddPiece).
	Quota int64
}

func (p Policy) withDefaults() Policy {
	if p.TTL <= 0 {
		p.TTL = DefaultTTL
	}
	if p.Quota <= 0 {
		p.Quota = DefaultQuota
	}
	return p
}

// policy is the store's, held apart so Open keeps its signature.
type policy struct {
	p                     atomic.Pointer[Policy]
	expired, expiredBytes atomic.Uint64
}

// SetPolicy sets the expiry and quota.
func (s *Store) SetPolicy(p Policy) {
	p = p.withDefaults()
	s.pol.p.Store(&p)
}

// Policy is the policy in force.
func (s *Store) Policy() Policy {
	if p := s.pol.p.Load(); p != nil {
		return *p
	}
	return Policy{}.withDefaults()
}

// Expired counts the attachments and bytes sweeps removed since open.
func (s *Store) Expired() (count, bytes uint64) {
	return s.pol.expired.Load(), s.pol.expiredBytes.Load()
}

func usageTx(tx *bolt.Tx, origin string) int64 {
	b := tx.Bucket(bucketUsage)
	if b == nil {
		return 0
	}
	if v := b.Get([]byte(origin)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// Usage is the bytes of attachments held here charged to origin.
func (s *Store) Usage(origin string) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error { n = usageTx(tx, origin); return nil })
	return n, err
}

// charge records h as origin's and adds delta to origin's use.
func charge(tx *bolt.Tx, h, origin string, delta int64) error {
	ob, err := tx.CreateBucketIfNotExists(bucketOrigin)
	if err != nil {
		return err
	}
	ub, err := tx.CreateBucketIfNotExists(bucketUsage)
	if err != nil {
		return err
	}
	if delta > 0 {
		if err := ob.Put([]byte(h), []byte(origin)); err != nil {
			return err
		}
	} else if err := ob.Delete([]byte(h)); err != nil {
		return err
	}
	used := max(usageTx(tx, origin)+delta, 0)
	return ub.Put([]byte(origin), binary.BigEndian.AppendUint64(nil, uint64(used)))
}

// uncharge takes h off the use of the origin it was charged to, if any.
func uncharge(tx *bolt.Tx, h string, size int64) error {
	ob := tx.Bucket(bucketOrigin)
	if ob == nil {
		return nil
	}
	origin := ob.Get([]byte(h))
	if origin == nil {
		return nil
	}
	return charge(tx, h, string(origin), -size)
}

// QuotaCheck refuses size more bytes for origin when they would pass the
// quota, with an error saying which origin, the quota and the use.
func QuotaCheck(origin string, quota, used, size int64) error {
	if used+size <= quota {
		return nil
	}
	return fmt.Errorf("%w: origin %s keeps %d bytes of attachments here, and %d more would pass its quota of %d bytes (%.1f GiB); attachments no entry names expire, or ask the district to raise the quota",
		ErrQuota, origin, used, size, quota, float64(quota)/(1<<30))
}

// Swept is what one sweep removed.
type Swept struct {
	Count    int
	Bytes    int64
	Partials int
}

// Sweep removes every attachment no entry names that was uploaded more
// than the TTL ago (by the store's clock), and partial uploads untouched as
// long. A locked attachment is never removed: the lock is checked again in
// the transaction that deletes, so an entry recorded meanwhile keeps it.
func (s *Store) Sweep(ctx context.Context) (Swept, error) {
	var out Swept
	cutoff := s.now().Add(-s.Policy().TTL)
	var stale []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var a sanziv1.Attachment
			if err := proto.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode attachment %s: %w", k, err)
			}
			if a.GetLockedBy() == "" && a.GetUploadedAt().AsTime().Before(cutoff) {
				stale = append(stale, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return out, fmt.Errorf("sweep attachments: %w", err)
	}
	for _, h := range stale {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		size, err := s.expire(h, cutoff)
		if err != nil {
			return out, err
		}
		if size > 0 {
			out.Count++
			out.Bytes += size
		}
	}
	parts, _ := filepath.Glob(filepath.Join(s.dir, ".partial", "*"))
	for _, p := range parts {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().Before(cutoff) {
			s.mu.Lock()
			if os.Remove(p) == nil {
				out.Partials++
			}
			s.mu.Unlock()
		}
	}
	s.pol.expired.Add(uint64(out.Count))
	s.pol.expiredBytes.Add(uint64(out.Bytes))
	return out, nil
}

// expire removes h if it is still unlocked and older than cutoff, and
// returns its size (0: kept).
func (s *Store) expire(h string, cutoff time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var size int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := DescribeTx(tx, h)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.GetLockedBy() != "" || !a.GetUploadedAt().AsTime().Before(cutoff) {
			return nil
		}
		if err := uncharge(tx, h, a.GetSize()); err != nil {
			return err
		}
		size = a.GetSize()
		return tx.Bucket(bucket).Delete([]byte(h))
	})
	if err != nil {
		return 0, fmt.Errorf("expire attachment %s: %w", h, err)
	}
	if size > 0 {
		if err := os.Remove(s.path(h)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return size, fmt.Errorf("remove attachment file %s: %w", h, err)
		}
	}
	return size, nil
}

// Origin is the origin attachment h is charged to here ("" when none: an
// upload through the node's own API, or one held before origins were
// recorded).
func (s *Store) Origin(h string) (string, error) {
	var origin string
	err := s.db.View(func(tx *bolt.Tx) error {
		if ob := tx.Bucket(bucketOrigin); ob != nil {
			origin = string(ob.Get([]byte(h)))
		}
		return nil
	})
	return origin, err
}
