package fsm

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// bucketDeliveries holds the finished deliveries of the leader's
// notifications of TAMPER findings (federation/member), keyed by message
// id, channel and address: who at the town and the district was told of
// which finding, replicated so that a new leader does not tell them again.
// Like the forks, they live in the replicated state rather than in the
// district's chain, which only the key of its publisher signs and no
// member holds.
var bucketDeliveries = []byte("deliveries")

func deliveryPrefix(messageID string) []byte { return []byte(messageID + "\x00") }

func deliveryKey(d *sanziv1.NotificationDelivery) []byte {
	return append(deliveryPrefix(d.GetMessageId()), d.GetChannel()+"\x00"+d.GetAddress()...)
}

// recordDelivery stores one delivery; a second record of the same message,
// channel and address (a leader that recorded it just before losing
// leadership, and its successor) replaces nothing: the first stands.
func (a *applier) recordDelivery(payload []byte) (interface{}, error) {
	var d sanziv1.NotificationDelivery
	if err := decode(payload, &d); err != nil {
		return err, nil
	}
	if d.GetMessageId() == "" || d.GetChannel() == "" {
		return fmt.Errorf("%w: a delivery needs a message id and a channel", ErrBadCommand), nil
	}
	b, err := a.tx.CreateBucketIfNotExists(bucketDeliveries)
	if err != nil {
		return nil, fmt.Errorf("create deliveries bucket: %w", err)
	}
	k := deliveryKey(&d)
	if b.Get(k) != nil {
		return nil, nil
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&d)
	if err != nil {
		return nil, fmt.Errorf("encode delivery: %w", err)
	}
	if err := b.Put(k, v); err != nil {
		return nil, fmt.Errorf("store delivery: %w", err)
	}
	return nil, nil
}

// Deliveries lists the recorded deliveries of the message with id
// messageID, or of every message when it is empty.
func (f *FSM) Deliveries(messageID string) ([]*sanziv1.NotificationDelivery, error) {
	var out []*sanziv1.NotificationDelivery
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		if b == nil {
			return nil
		}
		var prefix []byte
		if messageID != "" {
			prefix = deliveryPrefix(messageID)
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
			d := &sanziv1.NotificationDelivery{}
			if err := proto.Unmarshal(v, d); err != nil {
				return fmt.Errorf("read delivery %q: %w", k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}
