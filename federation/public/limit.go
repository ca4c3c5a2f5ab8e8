package public

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limits bound what one address, and everyone together, may ask of the
// public site. Zero fields take the defaults.
type Limits struct {
	// PerSecond and Burst are each address's token bucket: Burst requests
	// at once, then PerSecond. Default 5 a second, 60 at once: a person
	// reading pages never meets it, a script fetching a chain segment page
	// by page slows to it.
	PerSecond float64
	Burst     int
	// Addresses is how many addresses are tracked at once (default
	// 10,000); when all are busy, new addresses are refused until one has
	// been idle long enough to be forgotten (a full bucket's worth).
	Addresses int
	// Concurrent is how many public requests are served at once (default
	// 16); more wait for none and get 503, so the public site cannot take
	// the member's CPU from Raft and the signed-in users.
	Concurrent int
	// TrustedProxies are the reverse proxies in front of the site: a
	// request from one of them is counted against the address its
	// X-Forwarded-For names (the nearest hop that is not itself a trusted
	// proxy), so the villagers behind one proxy are not one address. Any
	// other peer's forwarding headers are ignored: anyone could send them.
	TrustedProxies []netip.Prefix
}

func (l *Limits) fill() {
	if l.PerSecond <= 0 {
		l.PerSecond = 5
	}
	if l.Burst <= 0 {
		l.Burst = 60
	}
	if l.Addresses <= 0 {
		l.Addresses = 10_000
	}
	if l.Concurrent <= 0 {
		l.Concurrent = 16
	}
}

// limiter is a token bucket per address, on an injected clock.
type limiter struct {
	lim Limits
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(lim Limits, now func() time.Time) *limiter {
	return &limiter{lim: lim, now: now, buckets: map[string]*bucket{}}
}

// allow takes one token for addr; false and how long until one is there
// when none is.
func (l *limiter) allow(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= l.lim.Addresses && !l.forget(now) {
			return false, time.Second
		}
		b = &bucket{tokens: float64(l.lim.Burst), at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(float64(l.lim.Burst), b.tokens+now.Sub(b.at).Seconds()*l.lim.PerSecond)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.lim.PerSecond * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// forget drops the buckets that have filled up again (an address idle
// that long is as if new); it reports whether any was dropped.
func (l *limiter) forget(now time.Time) bool {
	full := time.Duration(float64(l.lim.Burst) / l.lim.PerSecond * float64(time.Second))
	dropped := false
	for a, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, a)
			dropped = true
		}
	}
	return dropped
}

// clientAddr is the address a request is counted against: the peer's IP
// (no port), or, from a trusted proxy, the nearest address before it in
// X-Forwarded-For that is not a trusted proxy too. A header that does not
// parse counts as the proxy itself, never as whatever it claims.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !within(peer.Unmap(), trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host
		}
		if !within(a.Unmap(), trusted) {
			return a.Unmap().String()
		}
	}
	return host
}

func within(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseProxies reads --public-trusted-proxy values: addresses or CIDR
// prefixes, naming the one that does not parse.
func ParseProxies(vals []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range vals {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: neither an IP address nor a CIDR prefix", v)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
