package accounts

import (
	"sync"
	"time"
)

// ThrottleConfig sets how failed sign-ins slow the next ones, per account
// and per client address. Within Window, an account takes AccountBurst
// failures (an address AddressBurst: a village office shares one address);
// the failure that reaches the burst locks the key for Lock, and each lock
// within Forget of the last failure doubles it, up to MaxLock. A locked key
// is refused without its password being checked, so guessing does not go
// on behind the lock; a right password clears the account's count.
type ThrottleConfig struct {
	Window       time.Duration // default 1 minute
	AccountBurst int           // default 5: the 6th attempt within Window is refused
	AddressBurst int           // default 20
	Lock         time.Duration // first lock; default 1 minute
	MaxLock      time.Duration // default 30 minutes
	Forget       time.Duration // quiet time after which a key starts over; default 1 hour
}

func (c *ThrottleConfig) defaults() {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.AccountBurst <= 0 {
		c.AccountBurst = 5
	}
	if c.AddressBurst <= 0 {
		c.AddressBurst = 20
	}
	if c.Lock <= 0 {
		c.Lock = time.Minute
	}
	if c.MaxLock < c.Lock {
		c.MaxLock = 30 * time.Minute
	}
	if c.Forget <= 0 {
		c.Forget = time.Hour
	}
}

// throttle is in memory: a restart forgets it, which costs an attacker a
// restart of the node per few guesses, and keeps a failed sign-in from
// writing to disk (which a flood would turn into an fsync storm).
type throttle struct {
	cfg  ThrottleConfig
	mu   sync.Mutex
	keys map[string]*strikes
}

type strikes struct {
	fails  []time.Time // failures within the window, oldest first
	locks  int         // locks since the key was last quiet for Forget
	until  time.Time   // locked until
	latest time.Time   // newest failure
}

// sweepAbove bounds the map: past it, keys quiet for Forget are dropped.
const sweepAbove = 10000

func newThrottle(cfg ThrottleConfig) *throttle {
	cfg.defaults()
	return &throttle{cfg: cfg, keys: map[string]*strikes{}}
}

func accountKey(id string) string   { return "account:" + id }
func addressKey(addr string) string { return "address:" + addr }

// wait returns how long until key takes another attempt (0: now).
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil || !now.Before(s.until) {
		return 0
	}
	return s.until.Sub(now)
}

// fail counts a failure for key and returns the lock it started (0: none).
func (t *throttle) fail(key string, burst int, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil || now.Sub(s.latest) > t.cfg.Forget {
		if len(t.keys) > sweepAbove {
			t.sweep(now)
		}
		s = &strikes{}
		t.keys[key] = s
	}
	s.latest = now
	kept := s.fails[:0]
	for _, f := range s.fails {
		if now.Sub(f) < t.cfg.Window {
			kept = append(kept, f)
		}
	}
	s.fails = append(kept, now)
	if len(s.fails) < burst {
		return 0
	}
	lock := t.cfg.Lock << min(s.locks, 20)
	if lock > t.cfg.MaxLock || lock <= 0 {
		lock = t.cfg.MaxLock
	}
	s.locks++
	s.fails = s.fails[:0]
	s.until = now.Add(lock)
	return lock
}

// clear forgets key's failures and locks (a right password for an account).
func (t *throttle) clear(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

func (t *throttle) sweep(now time.Time) {
	for k, s := range t.keys {
		if now.Sub(s.latest) > t.cfg.Forget && !now.Before(s.until) {
			delete(t.keys, k)
		}
	}
}
