package books

import (
	"sync"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// alertFeed hands newly recorded alerts to live subscribers (the gRPC stream
// and Server-Sent Events). Each subscriber has a bounded buffer; one that
// falls behind is cut off (its channel closed) rather than slowing the
// recorder, and is expected to reconnect and list what it missed.
type alertFeed struct {
	mu     sync.Mutex
	subs   map[chan *sanziv1.AlertRecord]struct{}
	closed bool
}

// feedBuffer is how many alerts a subscriber may lag behind.
const feedBuffer = 256

// SubscribeAlerts returns a channel of alerts recorded from now on and a
// function that ends the subscription. The channel is closed when the
// subscriber falls too far behind or the subscription ends.
func (b *Books) SubscribeAlerts() (<-chan *sanziv1.AlertRecord, func()) {
	ch := make(chan *sanziv1.AlertRecord, feedBuffer)
	b.feed.mu.Lock()
	if b.feed.closed {
		b.feed.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	if b.feed.subs == nil {
		b.feed.subs = map[chan *sanziv1.AlertRecord]struct{}{}
	}
	b.feed.subs[ch] = struct{}{}
	b.feed.mu.Unlock()
	return ch, func() { b.feed.drop(ch) }
}

func (f *alertFeed) drop(ch chan *sanziv1.AlertRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[ch]; ok {
		delete(f.subs, ch)
		close(ch)
	}
}

// publish sends the alerts among stored entries to every subscriber.
func (f *alertFeed) publish(stored []*ledger.Stored) {
	var recs []*sanziv1.AlertRecord
	for _, s := range stored {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_ALERT {
			continue
		}
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			continue
		}
		recs = append(recs, &sanziv1.AlertRecord{Entry: s.Meta(), Alert: m.(*sanziv1.Alert), SubjectId: s.Subject, Status: sanziv1.AlertStatus_ALERT_STATUS_OPEN})
	}
	if len(recs) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		for _, r := range recs {
			select {
			case ch <- r:
			default:
				delete(f.subs, ch)
				close(ch)
			}
			if _, ok := f.subs[ch]; !ok {
				break
			}
		}
	}
}

// CloseFeed ends every subscription (their channels close) and refuses new
// ones: a node shutting down must not wait for stream clients to leave.
func (b *Books) CloseFeed() {
	b.feed.mu.Lock()
	defer b.feed.mu.Unlock()
	b.feed.closed = true
	for ch := range b.feed.subs {
		delete(b.feed.subs, ch)
		close(ch)
	}
}

// FeedClosed reports whether CloseFeed was called, so a stream whose channel
// closed can tell shutdown from falling behind.
func (b *Books) FeedClosed() bool {
	b.feed.mu.Lock()
	defer b.feed.mu.Unlock()
	return b.feed.closed
}
