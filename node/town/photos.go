package town

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/complaint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A complaint's photos stay at the district (the entry names them; only
// the district holds them whole). The town's reviewers need to see them,
// so the town fetches the photos of the complaints addressed to it from
// its parent, checks each against its hash and its first bytes, stores it
// and locks it by the complaint's entry, as if it had come up with it.

// PhotoSource reads one attachment the district holds (its
// AttachmentService, called with the town's certificate).
type PhotoSource func(ctx context.Context, sha256 string) (*sanziv1.Attachment, []byte, error)

// FetchPhotos fetches the photos of the town's complaints it does not hold
// yet and returns how many it stored; it stops at the first failure to
// fetch (the parent unreachable), to be called again later. A photo that
// does not match its hash, or is not a JPEG or PNG, is an error naming
// the complaint, and is not stored.
func (d *Desk) FetchPhotos(ctx context.Context, get PhotoSource) (int, error) {
	all, err := d.complaints()
	if err != nil {
		return 0, err
	}
	store := d.b.Attachments()
	n := 0
	for _, e := range all {
		for _, h := range e.c.GetPhotos() {
			if a, err := store.Describe(h); err == nil && a.GetLockedBy() != "" {
				continue
			} else if err != nil && !errors.Is(err, attach.ErrNotFound) {
				return n, err
			}
			desc, content, err := get(ctx, h)
			if err != nil {
				return n, fmt.Errorf("fetch photo %s of complaint %s from the district: %w", h, e.st.ID(), err)
			}
			ct, err := complaint.PhotoType(content)
			if err != nil {
				return n, fmt.Errorf("photo %s of complaint %s: %w", h, e.st.ID(), err)
			}
			if _, err := store.Put(content, desc.GetFileName(), ct, h); err != nil {
				return n, fmt.Errorf("store photo %s of complaint %s: %w", h, e.st.ID(), err)
			}
			if err := d.b.Ledger().DB().Update(func(tx *bolt.Tx) error { return attach.LockTx(tx, h, e.st.ID()) }); err != nil {
				return n, fmt.Errorf("lock photo %s by complaint %s: %w", h, e.st.ID(), err)
			}
			n++
		}
	}
	return n, nil
}
