package fsm

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// The district's attachments expire and are charged to origins as at a
// town (node/attach/quota.go), but inside replicated state, so every
// decision comes from the log, never from a member's clock:
//
//   - the leader stamps each piece with the sending origin and its own time
//     (AttachmentChunk.origin, uploaded_unix_ms); the first piece's time
//     becomes the attachment's upload time, the same on every member;
//   - an applied entry that names an attachment records it in attach_named
//     (the lock), whether the attachment came before the entry or after;
//   - the leader proposes ExpireAttachments with a cutoff from its clock;
//     applying it removes every attachment not in attach_named whose upload
//     time is before the cutoff. Attachments from before upload times were
//     recorded have none and never expire, since the entries that named
//     them before attach_named existed were not indexed.
//
// Each origin's use (attach_usage, bytes of pieces held) is what the leader
// checks the quota against before it proposes a first piece.
var (
	bucketAttachOrigin = []byte("attach_origin") // hash → origin charged
	bucketAttachUsage  = []byte("attach_usage")  // origin → bytes held
	bucketAttachNamed  = []byte("attach_named")  // hash → first entry id naming it
)

// markNamed locks every attachment the entry s names.
//
// Every member lists them alike, so a lock one member's binary took and
// another's did not would make their states differ: Named must fail
// exactly when the payload does not decode, and name what the decode
// names. entries.AttachmentsIn does, reading the names from the wire with a
// walk held to proto.Unmarshal by fuzzing (node/entries/walk.go), in about
// 0.1 µs and no allocation for a transaction; the whole decode it replaced
// cost 1.3 µs and 10 allocations, on each member (issue 17).
func (a *applier) markNamed(s *ledger.Link) error {
	if a.named == nil {
		return nil
	}
	hashes, err := a.named(s.Type, s.Payload, a.names[:0])
	a.names = hashes[:0]
	if err != nil || len(hashes) == 0 {
		return nil // a payload this binary cannot read names nothing it knows
	}
	b, err := a.tx.CreateBucketIfNotExists(bucketAttachNamed)
	if err != nil {
		return fmt.Errorf("create attachment lock bucket: %w", err)
	}
	var id []byte
	for _, h := range hashes {
		if b.Get(h) == nil {
			if id == nil {
				id = []byte(ledger.EntryID(s.Origin, s.Seq))
			}
			if err := b.Put(h, id); err != nil {
				return fmt.Errorf("lock attachment %s: %w", h, err)
			}
		}
	}
	return nil
}

// chargeAttachment adds delta bytes of h to its origin's use; the first
// charge records the origin.
func (a *applier) chargeAttachment(h, origin string, delta int64) error {
	ob, err := a.tx.CreateBucketIfNotExists(bucketAttachOrigin)
	if err != nil {
		return err
	}
	ub, err := a.tx.CreateBucketIfNotExists(bucketAttachUsage)
	if err != nil {
		return err
	}
	if o := ob.Get([]byte(h)); o != nil {
		origin = string(o)
	} else if origin == "" {
		return nil
	} else if err := ob.Put([]byte(h), []byte(origin)); err != nil {
		return err
	}
	used := max(usage(ub, origin)+delta, 0)
	return ub.Put([]byte(origin), binary.BigEndian.AppendUint64(nil, uint64(used)))
}

func usage(ub *bolt.Bucket, origin string) int64 {
	if ub == nil {
		return 0
	}
	if v := ub.Get([]byte(origin)); len(v) == 8 {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// uploadTime is the time the leader stamped on a first piece, nil when
// none was (a piece from an older leader).
func uploadTime(c *clusterv1.AttachmentChunk) *timestamppb.Timestamp {
	if c.GetUploadedUnixMs() <= 0 {
		return nil
	}
	return timestamppb.New(time.UnixMilli(c.GetUploadedUnixMs()).UTC())
}

// expireAttachments applies ExpireAttachments.
func (a *applier) expireAttachments(payload []byte) (interface{}, error) {
	var c clusterv1.ExpireAttachments
	if err := decode(payload, &c); err != nil {
		return err, nil
	}
	meta, data := a.tx.Bucket(bucketAttachMeta), a.tx.Bucket(bucketAttachData)
	if a.named == nil || meta == nil || data == nil {
		return &Expired{}, nil
	}
	named := a.tx.Bucket(bucketAttachNamed)
	cutoff := time.UnixMilli(c.GetCutoffUnixMs())
	type held struct {
		h        string
		received int64
	}
	var stale []held
	err := meta.ForEach(func(k, v []byte) error {
		if named != nil && named.Get(k) != nil {
			return nil
		}
		m, err := decodeAttachMeta(v)
		if err != nil {
			return fmt.Errorf("read attachment %s: %w", k, err)
		}
		if at := m.desc.GetUploadedAt(); at != nil && at.AsTime().Before(cutoff) {
			stale = append(stale, held{string(k), m.received})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &Expired{}
	for _, s := range stale {
		if err := a.dropAttachment(meta, data, s.h, s.received); err != nil {
			return nil, err
		}
		out.Count++
		out.Bytes += s.received
	}
	return out, nil
}

// dropAttachment removes h's pieces, description and charge.
func (a *applier) dropAttachment(meta, data *bolt.Bucket, h string, received int64) error {
	if err := dropPieces(data, h); err != nil {
		return err
	}
	if err := meta.Delete([]byte(h)); err != nil {
		return fmt.Errorf("drop attachment %s: %w", h, err)
	}
	if err := a.chargeAttachment(h, "", -received); err != nil {
		return fmt.Errorf("uncharge attachment %s: %w", h, err)
	}
	if ob := a.tx.Bucket(bucketAttachOrigin); ob != nil {
		return ob.Delete([]byte(h))
	}
	return nil
}

// Expired is the result of an ExpireAttachments command.
type Expired struct {
	Count int
	Bytes int64
}

// AttachmentUsage is the bytes of attachments held for origin.
func (f *FSM) AttachmentUsage(origin string) (int64, error) {
	var n int64
	err := f.view(func(tx *bolt.Tx) error {
		n = usage(tx.Bucket(bucketAttachUsage), origin)
		return nil
	})
	return n, err
}

// AttachmentOrigin is the origin h is charged to (the node that sent its
// first piece), "" when none is recorded: whose chains may read it.
func (f *FSM) AttachmentOrigin(h string) (string, error) {
	var origin string
	err := f.view(func(tx *bolt.Tx) error {
		if ob := tx.Bucket(bucketAttachOrigin); ob != nil {
			origin = string(ob.Get([]byte(h)))
		}
		return nil
	})
	return origin, err
}

// AttachmentLockedBy is the id of the first entry applied that names h,
// "" when none has: who an attachment belongs to beyond its origin (a
// complaint's photos are charged to the district but are for one town).
func (f *FSM) AttachmentLockedBy(h string) (string, error) {
	var id string
	err := f.view(func(tx *bolt.Tx) error {
		if nb := tx.Bucket(bucketAttachNamed); nb != nil {
			id = string(nb.Get([]byte(h)))
		}
		return nil
	})
	return id, err
}
