package relay

import (
	"errors"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Reasons of a push refused for its signing key, re-exported for callers
// that know the relay package only.
const (
	ReasonKeyRevoked = string(refusal.ReasonKeyRevoked)
	ReasonKeyExpired = string(refusal.ReasonKeyExpired)
)

// KeyRefusal turns a refusal for a revoked or expired signing key
// (ledger.ErrKeyRevoked, ledger.ErrKeyExpired) into a PermissionDenied status
// carrying the permanent-refusal detail of package refusal (reason, origin,
// the refused seq, the key's fingerprint), so that the child stops pushing
// the chain until it re-keys and says why in `sanzi sync status`; it returns
// nil for any other error.
func KeyRefusal(err error) error {
	if err == nil {
		return nil
	}
	r := &refusal.Refusal{Message: err.Error(), Extra: map[string]string{}}
	var re *ledger.RevokedError
	var ee *ledger.ExpiredError
	switch {
	case errors.As(err, &re):
		r.Reason, r.Origin, r.Seq = refusal.ReasonKeyRevoked, re.Origin, re.Seq
		r.Extra[keyFingerprint] = re.Fingerprint
	case errors.As(err, &ee):
		r.Reason, r.Origin, r.Seq = refusal.ReasonKeyExpired, ee.Origin, ee.Seq
		r.Extra[keyFingerprint] = ee.Fingerprint
	default:
		return nil
	}
	return r.Status(codes.PermissionDenied)
}

// keyFingerprint is the metadata key of the refused key's fingerprint.
const keyFingerprint = "fingerprint"

// RefusedFor reads KeyRefusal's reason back from an error a parent
// returned (possibly wrapped); ok is false for any other error.
func RefusedFor(err error) (reason string, ok bool) {
	r := keyRefused(err)
	if r == nil {
		return "", false
	}
	return string(r.Reason), true
}

// keyRefused is the key refusal in err (KeyRefusal's status, possibly
// wrapped); nil for any other error.
func keyRefused(err error) *refusal.Refusal {
	r := refusal.From(err)
	if r == nil || (r.Reason != refusal.ReasonKeyRevoked && r.Reason != refusal.ReasonKeyExpired) {
		return nil
	}
	return r
}

// Refusal is the last push of one origin a parent refused for its signing
// key: the parent's side of `sanzi sync status`.
type Refusal struct {
	Origin string    `json:"origin"`
	Reason string    `json:"reason"` // ReasonKeyRevoked or ReasonKeyExpired
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
	Count  int       `json:"count"` // refused pushes since the parent started
}

// Refusals keeps the last key refusal per origin.
type Refusals struct {
	mu sync.Mutex
	m  map[string]Refusal
}

// Note records err if it is a key refusal (a ledger key error, or the
// status KeyRefusal made of one upstream), against the origin it names or
// else origin, and returns the error to send the child: KeyRefusal's status
// for one, err otherwise.
func (r *Refusals) Note(origin string, err error, now time.Time) error {
	st := KeyRefusal(err)
	if st == nil {
		st = err
	}
	rf := keyRefused(st)
	if rf == nil {
		return err
	}
	if rf.Origin != "" {
		origin = rf.Origin
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]Refusal{}
	}
	r.m[origin] = Refusal{Origin: origin, Reason: string(rf.Reason), Error: err.Error(), At: now, Count: r.m[origin].Count + 1}
	return st
}

// List returns the refusals by origin.
func (r *Refusals) List() []Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Refusal, 0, len(r.m))
	for _, f := range r.m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

// ChainRevocations is a town's (or village's) view of the revocations in
// the district's chain it pulled into its ledger, read incrementally: each
// lookup first reads the district entries stored since the last one.
type ChainRevocations struct {
	l        *ledger.Ledger
	district string
	mu       sync.Mutex
	seq      uint64
	m        map[string]ledger.Revocation
}

// NewChainRevocations reads the revocations of district's chain (…000000) in l.
func NewChainRevocations(l *ledger.Ledger, district string) *ChainRevocations {
	return &ChainRevocations{l: l, district: district, m: map[string]ledger.Revocation{}}
}

// refresh reads the district entries stored since the last call (under mu).
func (c *ChainRevocations) refresh() {
	if c.l.Head(c.district).Seq <= c.seq {
		return
	}
	c.l.Range(c.district, c.seq+1, 0, func(s *ledger.Stored) bool {
		c.seq = s.Seq
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION {
			return true
		}
		link, err := ledger.Peek(s.Raw)
		if err != nil {
			return true
		}
		if r, ok := ledger.RevocationOf(link); ok {
			k := r.Origin + "/" + r.Fingerprint
			if held, ok := c.m[k]; !ok || r.AfterSeq < held.AfterSeq {
				c.m[k] = r
			}
		}
		return true
	})
}

// Revoked implements ledger.Revocations.
func (c *ChainRevocations) Revoked(origin, fingerprint string) (ledger.Revocation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	r, ok := c.m[origin+"/"+fingerprint]
	return r, ok
}

// List returns every revocation read so far, by origin and fingerprint.
func (c *ChainRevocations) List() []ledger.Revocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refresh()
	out := make([]ledger.Revocation, 0, len(c.m))
	for _, r := range c.m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin+out[i].Fingerprint < out[j].Origin+out[j].Fingerprint })
	return out
}
