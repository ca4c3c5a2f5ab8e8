// Package retry holds the one backoff every retrying link uses (the
// notifier, the sync outbox and puller, the analytics loader), so that
// they all spread their retries the same way.
package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait after the failures-th consecutive failure: base
// doubled per failure up to max, then equal jitter into [d/2, d), so that
// clients failing together (a parent down) do not retry in step, yet never
// retry at once. rnd returns a value in [0,1); nil means math/rand/v2.
func Backoff(failures int, base, max time.Duration, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(rnd()*float64(d/2))
}
