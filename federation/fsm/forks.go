package fsm

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// bucketForks holds the forks the district refused, keyed by origin, seq
// and the pushed entry's hash, so the same fork pushed again is recorded
// once. The district has no chain of its own to record them in (only its
// publisher signs that one), so they live in the replicated state and reach
// the analytics through the feed as TAMPER alerts.
var bucketForks = []byte("forks")

func forkKey(origin string, seq uint64, sent string) []byte {
	k := append([]byte(origin+"/"), binary.BigEndian.AppendUint64(nil, seq)...)
	return append(k, "/"+sent...)
}

// recordFork stores a refused fork and puts it on the feed at its index.
func (a *applier) recordFork(index uint64, payload []byte) (interface{}, error) {
	var m sanziv1.ForkRecord
	if err := decode(payload, &m); err != nil {
		return err, nil
	}
	if m.GetOrigin() == "" || m.GetSeq() == 0 || m.GetSentHash() == "" {
		return fmt.Errorf("%w: a fork needs origin, seq and sent hash", ErrBadCommand), nil
	}
	b, err := a.tx.CreateBucketIfNotExists(bucketForks)
	if err != nil {
		return nil, fmt.Errorf("create forks bucket: %w", err)
	}
	k := forkKey(m.GetOrigin(), m.GetSeq(), m.GetSentHash())
	if b.Get(k) != nil {
		return nil, nil // the same fork pushed again: recorded once
	}
	m.Index = index
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encode fork: %w", err)
	}
	if err := b.Put(k, v); err != nil {
		return nil, fmt.Errorf("store fork: %w", err)
	}
	feed, err := proto.MarshalOptions{Deterministic: true}.Marshal(&clusterv1.FeedRecord{Fork: &m})
	if err != nil {
		return nil, fmt.Errorf("encode feed record: %w", err)
	}
	if err := a.tx.Bucket(bucketFeed).Put(u64(index), feed); err != nil {
		return nil, fmt.Errorf("store feed record: %w", err)
	}
	return nil, nil
}

// Forks lists the refused forks (of origin, or all when empty), oldest
// first.
func (f *FSM) Forks(origin string) ([]*sanziv1.ForkRecord, error) {
	var out []*sanziv1.ForkRecord
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketForks)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			m := &sanziv1.ForkRecord{}
			if err := proto.Unmarshal(v, m); err != nil {
				return fmt.Errorf("read fork %q: %w", k, err)
			}
			if origin == "" || m.GetOrigin() == origin {
				out = append(out, m)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *sanziv1.ForkRecord) int { return cmp.Compare(a.GetIndex(), b.GetIndex()) })
	return out, err
}
