package cluster

import "testing"

// TestOfferKeepsTheNewest: a leadership subscriber that is busy (stopping
// its loader) must find the current state when it reads again, however
// many changes it missed, and the watcher must never block on it.
func TestOfferKeepsTheNewest(t *testing.T) {
	ch := make(chan bool, 1)
	for _, v := range []bool{true, false, true, false} {
		offer(ch, v) // would block on the second value with a plain send
	}
	if v := <-ch; v {
		t.Fatal("read true after the last offer said false")
	}
	offer(ch, true)
	if v := <-ch; !v {
		t.Fatal("read false after offering true to an empty channel")
	}
	select {
	case v := <-ch:
		t.Fatalf("channel still held %v after the newest value was read", v)
	default:
	}
}
