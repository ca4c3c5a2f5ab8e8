package fsm

import (
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Keys after a rotation and revoked keys are not commands of their own: they
// are entries of the chains (a KeyRotation in the origin's chain, a
// KeyRevocation in the district's own chain), and applying an APPEND that
// stores one records its effect here, in the same transaction. So they are
// replicated, applied alike by every member (they depend on the entry bytes
// alone), restored with the chains by a snapshot, and the district's
// revocations reach towns and villages in the chain they pull anyway.
var (
	// bucketCurrent: origin -> the key its chain is signed with after its
	// last rotation (origins that never rotated are absent: their key is
	// the registered one in bucketKeys, which their seq 1 is signed with).
	bucketCurrent = []byte("current")
	// bucketRevoked: origin "/" fingerprint -> encoded ledger revocation.
	bucketRevoked = []byte("revoked")
)

// keyState is the cache of bucketCurrent and bucketRevoked.
type keyState struct {
	current map[string]ed25519.PublicKey
	revoked map[string]ledger.Revocation
}

func newKeyState() keyState {
	return keyState{current: map[string]ed25519.PublicKey{}, revoked: map[string]ledger.Revocation{}}
}

func revokedKey(origin, fingerprint string) string { return origin + "/" + fingerprint }

// loadKeyState reads both buckets (absent in a state file written before
// rotations existed: then empty).
func loadKeyState(tx *bolt.Tx) (keyState, error) {
	ks := newKeyState()
	if b := tx.Bucket(bucketCurrent); b != nil {
		b.ForEach(func(k, v []byte) error {
			ks.current[string(k)] = ed25519.PublicKey(append([]byte(nil), v...))
			return nil
		})
	}
	if b := tx.Bucket(bucketRevoked); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			r, err := decodeRevocation(v)
			ks.revoked[string(k)] = r
			return err
		})
		if err != nil {
			return ks, err
		}
	}
	return ks, nil
}

func decodeRevocation(v []byte) (ledger.Revocation, error) {
	var m sanziv1.KeyRevocation
	if err := proto.Unmarshal(v, &m); err != nil {
		return ledger.Revocation{}, fmt.Errorf("stored revocation: %w", err)
	}
	return ledger.Revocation{Origin: m.GetOrigin(), Fingerprint: m.GetFingerprint(), AfterSeq: m.GetAfterSeq(), Reason: m.GetReason(), Entry: m.GetEntry()}, nil
}

// keyEntry records what a stored entry changes about keys: a rotation moves
// its origin to the new key and certificate; a revocation in a district's
// own chain revokes a key (a later revocation of the same key only ever
// moves the point earlier). A malformed payload changes nothing: the leader
// checked rotations before proposing, and a district entry that revokes
// nothing is the district's own mistake, kept in its chain like any other.
func (a *applier) keyEntry(s ledger.Link) error {
	switch s.Type {
	case sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION:
		var m sanziv1.KeyRotation
		if err := proto.Unmarshal(s.Payload, &m); err != nil || len(m.GetPublicKey()) != ed25519.PublicKeySize {
			a.log.Warn("key rotation entry with a malformed payload changes no key", "origin", s.Origin, "seq", s.Seq)
			return nil
		}
		b, err := a.tx.CreateBucketIfNotExists(bucketCurrent)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(s.Origin), m.GetPublicKey()); err != nil {
			return fmt.Errorf("store key of %s: %w", s.Origin, err)
		}
		if err := a.keepFirstCertificate(s.Origin); err != nil {
			return err
		}
		if len(m.GetCertificate()) > 0 {
			if err := a.tx.Bucket(bucketCerts).Put([]byte(s.Origin), m.GetCertificate()); err != nil {
				return fmt.Errorf("store certificate of %s: %w", s.Origin, err)
			}
		}
		a.ks.current[s.Origin] = ed25519.PublicKey(append([]byte(nil), m.GetPublicKey()...))
	case sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION:
		r, ok := ledger.RevocationOf(s)
		if !ok {
			a.log.Warn("key revocation entry revokes nothing (not the district's chain, or malformed)", "origin", s.Origin, "seq", s.Seq)
			return nil
		}
		b, err := a.tx.CreateBucketIfNotExists(bucketRevoked)
		if err != nil {
			return err
		}
		k := revokedKey(r.Origin, r.Fingerprint)
		if v := b.Get([]byte(k)); v != nil {
			if held, err := decodeRevocation(v); err == nil && held.AfterSeq <= r.AfterSeq {
				return nil
			}
		}
		v, err := proto.MarshalOptions{Deterministic: true}.Marshal(&sanziv1.KeyRevocation{Origin: r.Origin, Fingerprint: r.Fingerprint,
			AfterSeq: r.AfterSeq, Reason: r.Reason, Entry: r.Entry})
		if err != nil {
			return fmt.Errorf("encode revocation: %w", err)
		}
		if err := b.Put([]byte(k), v); err != nil {
			return fmt.Errorf("store revocation of %s: %w", k, err)
		}
		a.ks.revoked[k] = r
	}
	return nil
}

// firstCertKey is where bucketCerts keeps the certificate of origin's
// first key once a rotation replaced it under origin (an origin is twelve
// digits, so no origin is spelt like this).
func firstCertKey(origin string) []byte { return []byte(origin + ".first") }

// keepFirstCertificate keeps, before a rotation overwrites origin's
// certificate, the one its first key was registered with, so the district
// can serve it to a child whose first pull of the chain comes after the
// rotation (first_signer_certificate). It is written once: at the first
// rotation, and only when the held certificate is of the registered key (the
// key seq 1 is signed with). A state that rotated before this was kept holds
// the rotation's certificate there, which is not of that key, so nothing is
// written and the district serves none, as before. It depends on the state
// alone, so every member writes the same.
func (a *applier) keepFirstCertificate(origin string) error {
	cb := a.tx.Bucket(bucketCerts)
	if cb == nil || cb.Get(firstCertKey(origin)) != nil {
		return nil
	}
	der := cb.Get([]byte(origin))
	reg := a.tx.Bucket(bucketKeys).Get([]byte(origin))
	if der == nil || reg == nil {
		return nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil // not a certificate anyone could check seq 1 against
	}
	if k, ok := c.PublicKey.(ed25519.PublicKey); !ok || !k.Equal(ed25519.PublicKey(reg)) {
		return nil
	}
	if err := cb.Put(firstCertKey(origin), append([]byte(nil), der...)); err != nil {
		return fmt.Errorf("keep the first certificate of %s: %w", origin, err)
	}
	return nil
}

// FirstCertificate is the DER certificate of the key origin's chain starts
// with, kept at its first rotation; nil for an origin that never rotated
// (its Certificate is that one) or that rotated before it was kept.
func (f *FSM) FirstCertificate(origin string) []byte {
	var out []byte
	f.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCerts); b != nil {
			out = append([]byte(nil), b.Get(firstCertKey(origin))...)
		}
		return nil
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// Current returns the key origin's chain is signed with at its head: the
// registered one, or the one its last rotation named. Pushes are verified
// from it.
func (f *FSM) Current(origin string) (ed25519.PublicKey, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if k, ok := f.ks.current[origin]; ok {
		return k, true
	}
	k, ok := f.keys[origin]
	return k, ok
}

// Revoked implements ledger.Revocations from the replicated state.
func (f *FSM) Revoked(origin, fingerprint string) (ledger.Revocation, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.ks.revoked[revokedKey(origin, fingerprint)]
	return r, ok
}

// Revocations lists every revoked key, by origin then fingerprint.
func (f *FSM) Revocations() []ledger.Revocation {
	f.mu.RLock()
	out := make([]ledger.Revocation, 0, len(f.ks.revoked))
	for _, r := range f.ks.revoked {
		out = append(out, r)
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		return revokedKey(out[i].Origin, out[i].Fingerprint) < revokedKey(out[j].Origin, out[j].Fingerprint)
	})
	return out
}

// mergeInto copies what an applier changed into the FSM's cache (held
// under its lock by the caller).
func (ks keyState) mergeInto(to *keyState) {
	for o, k := range ks.current {
		to.current[o] = k
	}
	for k, r := range ks.revoked {
		to.revoked[k] = r
	}
}
