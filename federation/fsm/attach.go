package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Attachments live in the state file, replicated like everything else, so a
// receipt survives the loss of any member: attach_meta holds per hash the
// bytes received, whether the whole matched its hash, and the description;
// attach_data the pieces, keyed by hash and offset, in the order they came.
var (
	bucketAttachMeta = []byte("attach_meta")
	bucketAttachData = []byte("attach_data")
)

// MaxAttachmentSize bounds one attachment, as on the nodes.
const MaxAttachmentSize = 16 << 20

// Errors an ATTACHMENT_CHUNK command results in; compare with errors.Is.
var (
	// ErrAttachment: a piece that does not fit what is held (wrong offset,
	// past the size, another size than the first piece said).
	ErrAttachment = errors.New("fsm: attachment piece refused")
	// ErrAttachmentMismatch: the whole does not match its hash; every piece
	// was dropped, so the next try starts from nothing.
	ErrAttachmentMismatch = errors.New("fsm: attachment does not match its hash")
)

// attachMeta is the stored state of one attachment.
type attachMeta struct {
	received int64
	complete bool
	desc     sanziv1.Attachment
}

func (m *attachMeta) encode() ([]byte, error) {
	d, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m.desc)
	if err != nil {
		return nil, err
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(m.received))
	if m.complete {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	return append(out, d...), nil
}

func decodeAttachMeta(v []byte) (*attachMeta, error) {
	if len(v) < 9 {
		return nil, fmt.Errorf("attachment state of %d bytes", len(v))
	}
	m := &attachMeta{received: int64(binary.BigEndian.Uint64(v)), complete: v[8] == 1}
	if err := proto.Unmarshal(v[9:], &m.desc); err != nil {
		return nil, fmt.Errorf("attachment description: %w", err)
	}
	return m, nil
}

func pieceKey(h string, offset int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(h), uint64(offset))
}

// attachmentChunk adds one piece. Everything here is decided from the
// command and the state alone, so every member ends the same.
func (a *applier) attachmentChunk(payload []byte) (interface{}, error) {
	var c clusterv1.AttachmentChunk
	if err := decode(payload, &c); err != nil {
		return err, nil
	}
	h := c.GetSha256()
	if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
		return fmt.Errorf("%w: sha256 %q is not 64 hex digits", ErrBadCommand, h), nil
	}
	if c.GetSize() <= 0 || c.GetSize() > MaxAttachmentSize {
		return fmt.Errorf("%w: %s: size %d, want 1 to %d bytes", ErrAttachment, h, c.GetSize(), MaxAttachmentSize), nil
	}
	meta, err := a.tx.CreateBucketIfNotExists(bucketAttachMeta)
	if err != nil {
		return nil, fmt.Errorf("create attachment buckets: %w", err)
	}
	data, err := a.tx.CreateBucketIfNotExists(bucketAttachData)
	if err != nil {
		return nil, fmt.Errorf("create attachment buckets: %w", err)
	}
	m := &attachMeta{desc: sanziv1.Attachment{Sha256: h, Size: c.GetSize(), FileName: c.GetFileName(), ContentType: c.GetContentType(), UploadedAt: uploadTime(&c)}}
	if v := meta.Get([]byte(h)); v != nil {
		if m, err = decodeAttachMeta(v); err != nil {
			return nil, fmt.Errorf("read attachment %s: %w", h, err)
		}
	}
	switch {
	case m.complete:
		return nil, nil // a resend of something held whole
	case c.GetSize() != m.desc.GetSize():
		return fmt.Errorf("%w: %s: a piece says the size is %d, an earlier one %d", ErrAttachment, h, c.GetSize(), m.desc.GetSize()), nil
	case c.GetOffset() != m.received:
		return fmt.Errorf("%w: %s: a piece at offset %d, but %d bytes are held", ErrAttachment, h, c.GetOffset(), m.received), nil
	case len(c.GetData()) == 0 || c.GetOffset()+int64(len(c.GetData())) > c.GetSize():
		return fmt.Errorf("%w: %s: a piece of %d bytes at %d does not fit a size of %d", ErrAttachment, h, len(c.GetData()), c.GetOffset(), c.GetSize()), nil
	}
	if err := data.Put(pieceKey(h, c.GetOffset()), c.GetData()); err != nil {
		return nil, fmt.Errorf("store a piece of attachment %s: %w", h, err)
	}
	m.received += int64(len(c.GetData()))
	if err := a.chargeAttachment(h, c.GetOrigin(), int64(len(c.GetData()))); err != nil {
		return nil, fmt.Errorf("charge attachment %s: %w", h, err)
	}
	if m.received == m.desc.GetSize() {
		sum := sha256.New()
		eachPiece(data, h, func(v []byte) { sum.Write(v) })
		if got := hex.EncodeToString(sum.Sum(nil)); got != h {
			if err := a.dropAttachment(meta, data, h, m.received); err != nil {
				return nil, err
			}
			return fmt.Errorf("%w: the content received hashes to %s, not %s; it was dropped", ErrAttachmentMismatch, got, h), nil
		}
		m.complete = true
	}
	v, err := m.encode()
	if err != nil {
		return nil, fmt.Errorf("encode attachment %s: %w", h, err)
	}
	if err := meta.Put([]byte(h), v); err != nil {
		return nil, fmt.Errorf("store attachment %s: %w", h, err)
	}
	return nil, nil
}

// eachPiece hands fn the pieces of attachment h in order of offset.
func eachPiece(data *bolt.Bucket, h string, fn func(v []byte)) {
	cur := data.Cursor()
	for k, v := cur.Seek([]byte(h)); k != nil && bytes.HasPrefix(k, []byte(h)); k, v = cur.Next() {
		fn(v)
	}
}

func dropPieces(data *bolt.Bucket, h string) error {
	cur := data.Cursor()
	for k, _ := cur.Seek([]byte(h)); k != nil && bytes.HasPrefix(k, []byte(h)); k, _ = cur.Seek([]byte(h)) {
		if err := cur.Delete(); err != nil {
			return fmt.Errorf("drop a piece of attachment %s: %w", h, err)
		}
	}
	return nil
}

// AttachmentState is how many bytes of attachment h are held and whether
// the whole is held and matched its hash.
func (f *FSM) AttachmentState(h string) (received int64, complete bool, err error) {
	err = f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAttachMeta)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(h))
		if v == nil {
			return nil
		}
		m, err := decodeAttachMeta(v)
		if err != nil {
			return err
		}
		received, complete = m.received, m.complete
		return nil
	})
	return received, complete, err
}

// AttachmentStates is AttachmentState for each of hs, read in one
// transaction: fn gets each one's index in hs with its state.
func (f *FSM) AttachmentStates(hs []string, fn func(i int, received int64, complete bool)) error {
	return f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAttachMeta)
		for i, h := range hs {
			var v []byte
			if b != nil {
				v = b.Get([]byte(h))
			}
			if v == nil {
				fn(i, 0, false)
				continue
			}
			m, err := decodeAttachMeta(v)
			if err != nil {
				return fmt.Errorf("attachment %q: %w", h, err)
			}
			fn(i, m.received, m.complete)
		}
		return nil
	})
}

// ErrNoAttachment: the district does not hold that attachment whole.
var ErrNoAttachment = errors.New("fsm: attachment not held")

// Attachment returns a whole attachment's description and content.
func (f *FSM) Attachment(h string) (*sanziv1.Attachment, []byte, error) {
	var desc *sanziv1.Attachment
	var content []byte
	err := f.view(func(tx *bolt.Tx) error {
		mb, db := tx.Bucket(bucketAttachMeta), tx.Bucket(bucketAttachData)
		if mb == nil || db == nil || mb.Get([]byte(h)) == nil {
			return fmt.Errorf("%w: %s", ErrNoAttachment, h)
		}
		m, err := decodeAttachMeta(mb.Get([]byte(h)))
		if err != nil {
			return err
		}
		if !m.complete {
			return fmt.Errorf("%w: %s (%d of %d bytes received)", ErrNoAttachment, h, m.received, m.desc.GetSize())
		}
		desc = proto.Clone(&m.desc).(*sanziv1.Attachment)
		if nb := tx.Bucket(bucketAttachNamed); nb != nil {
			desc.LockedBy = string(nb.Get([]byte(h))) // the entry that locked it, if one named it
		}
		content = make([]byte, 0, m.desc.GetSize())
		eachPiece(db, h, func(v []byte) { content = append(content, v...) })
		return nil
	})
	return desc, content, err
}
