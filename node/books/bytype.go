package books

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// EachOfType calls fn with every entry of type t in origin's chain, in seq
// order, read from the type index (so a town's complaints desk reads its
// few complaints without walking a chain of a million entries). An error
// of fn stops the walk and is returned.
func (b *Books) EachOfType(t sanziv1.EntryType, origin string, fn func(*ledger.Stored) error) error {
	if err := b.l.DB().View(func(tx *bolt.Tx) error { return eachOfType(tx, t, origin, fn) }); err != nil {
		return fmt.Errorf("read the %s entries of %s: %w", t, origin, err)
	}
	return nil
}

// eachOfType is EachOfType inside tx.
func eachOfType(tx *bolt.Tx, t sanziv1.EntryType, origin string, fn func(*ledger.Stored) error) error {
	idx := tx.Bucket(bucketByType).Bucket([]byte{byte(t)})
	if idx == nil {
		return nil
	}
	prefix := []byte(origin)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != len(prefix)+8 {
			continue // a longer origin sharing the prefix
		}
		s, err := ledger.GetTx(tx, origin, binary.BigEndian.Uint64(k[len(prefix):]))
		if err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}
