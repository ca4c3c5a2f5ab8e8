package retry

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		rnd      float64
		want     time.Duration
	}{
		{1, 0, 500 * time.Millisecond},         // base 1s: [0.5s, 1s)
		{1, 0.5, 750 * time.Millisecond},       //
		{2, 0, time.Second},                    // doubled
		{4, 0, 4 * time.Second},                // 8s halved
		{10, 0, 15 * time.Second},              // capped at 30s
		{100, 0.999, 29985 * time.Millisecond}, // 15s + 0.999·15s
	} {
		if got := Backoff(c.failures, time.Second, 30*time.Second, func() float64 { return c.rnd }); got != c.want {
			t.Errorf("failure %d, rnd %v: %v, want %v", c.failures, c.rnd, got, c.want)
		}
	}
}
