package fsm

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// The district's credentials (node/accounts' password and token records)
// live in the replicated state, in bucket "credentials" with one nested
// bucket per kind. They are not a chain: no push or pull ever reads this
// bucket, so nothing of it goes down to a town or village; it travels only
// in Raft's log and snapshots, between the members. It is replicated at
// all because a person of a 3-member district must sign in at any member,
// and a token revoked at one must be refused at the next call at every
// other: a member-local credentials.db would do neither.
var bucketCredentials = []byte("credentials")

// credentialBuckets are the nested buckets a Credentials command may name.
var credentialBuckets = map[string]bool{"passwords": true, "tokens": true}

// credentials applies one Credentials command. A malformed one, or one
// naming an unknown bucket, changes nothing and returns ErrBadCommand as its
// result (alike on every member).
func (a *applier) credentials(payload []byte) (interface{}, error) {
	var c clusterv1.Credentials
	if err := decode(payload, &c); err != nil {
		return err, nil
	}
	for i, op := range c.GetOps() {
		if !credentialBuckets[op.GetBucket()] || len(op.GetKey()) == 0 {
			return fmt.Errorf("%w: credentials op %d: bucket %q, key of %d bytes", ErrBadCommand, i, op.GetBucket(), len(op.GetKey())), nil
		}
	}
	top, err := a.tx.CreateBucketIfNotExists(bucketCredentials)
	if err != nil {
		return nil, err
	}
	for _, op := range c.GetOps() {
		b, err := top.CreateBucketIfNotExists([]byte(op.GetBucket()))
		if err != nil {
			return nil, err
		}
		if op.GetDelete() {
			err = b.Delete(op.GetKey())
		} else {
			err = b.Put(op.GetKey(), op.GetValue())
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// Credential returns the value under key in the credentials bucket
// (nil when there is none), as of the last applied command.
func (f *FSM) Credential(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := f.view(func(tx *bolt.Tx) error {
		if b := credBucket(tx, bucket); b != nil {
			if v := b.Get(key); v != nil {
				out = append([]byte(nil), v...)
			}
		}
		return nil
	})
	return out, err
}

// EachCredential calls fn with every key and value of a credentials bucket.
func (f *FSM) EachCredential(bucket string, fn func(k, v []byte) error) error {
	return f.view(func(tx *bolt.Tx) error {
		if b := credBucket(tx, bucket); b != nil {
			return b.ForEach(fn)
		}
		return nil
	})
}

func credBucket(tx *bolt.Tx, name string) *bolt.Bucket {
	top := tx.Bucket(bucketCredentials)
	if top == nil {
		return nil
	}
	return top.Bucket([]byte(name))
}
