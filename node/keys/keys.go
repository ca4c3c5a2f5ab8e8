// Package keys holds the Ed25519 keys that origins sign their chains with.
// A node keeps one private key per origin it writes for; anyone who audits a
// chain needs only the public key. Keys live as PEM files in a folder so that
// an operator can back them up, and so that the district CA (sanzi ca) can
// hand a node the key it issued.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Ring is the set of keys a node has: private keys for the origins it writes,
// public keys for every origin it can verify.
type Ring struct {
	priv map[string]ed25519.PrivateKey
	pub  map[string]ed25519.PublicKey
	// first holds, for an origin that changed its key, the key its chain
	// starts with (<origin>.first.pub): verifying from seq 1 needs it.
	first map[string]ed25519.PublicKey
	// retired holds the private keys an origin signed with before it
	// rotated (<origin>.<fingerprint>.retired): never used to sign again,
	// kept to open what was sealed to them (a town's complaint contacts).
	retired map[string][]ed25519.PrivateKey
}

// NewRing returns an empty ring; tests and in-memory tools fill it with Add.
func NewRing() *Ring {
	return &Ring{priv: map[string]ed25519.PrivateKey{}, pub: map[string]ed25519.PublicKey{}, first: map[string]ed25519.PublicKey{},
		retired: map[string][]ed25519.PrivateKey{}}
}

// Retired returns the private keys origin signed with before its current
// one, in no particular order: for opening, never for signing.
func (r *Ring) Retired(origin string) []ed25519.PrivateKey { return r.retired[origin] }

// Add puts a private key (and its public half) on the ring for origin.
func (r *Ring) Add(origin string, k ed25519.PrivateKey) {
	r.priv[origin] = k
	r.pub[origin] = k.Public().(ed25519.PublicKey)
}

// AddPublic puts a public key for origin on the ring, for verifying only.
func (r *Ring) AddPublic(origin string, k ed25519.PublicKey) { r.pub[origin] = k }

// Private returns the signing key of origin.
func (r *Ring) Private(origin string) (ed25519.PrivateKey, bool) {
	k, ok := r.priv[origin]
	return k, ok
}

// Public returns the key origin's chain starts with (its seq 1), which the
// ledger verifies from: the current key, unless the origin rotated it.
func (r *Ring) Public(origin string) (ed25519.PublicKey, bool) {
	if k, ok := r.first[origin]; ok {
		return k, ok
	}
	k, ok := r.pub[origin]
	return k, ok
}

// Current returns the key origin signs with now.
func (r *Ring) Current(origin string) (ed25519.PublicKey, bool) {
	k, ok := r.pub[origin]
	return k, ok
}

// Origins lists every origin with a public key, sorted.
func (r *Ring) Origins() []string {
	out := make([]string, 0, len(r.pub))
	for o := range r.pub {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// Fingerprint is a short, stable name for a public key that people can compare
// over the phone: the first 16 hex digits of its SHA-256.
func Fingerprint(k ed25519.PublicKey) string {
	s := sha256.Sum256(k)
	return hex.EncodeToString(s[:8])
}

// Load reads every key in dir: <origin>.key (PKCS#8 PEM, private) and
// <origin>.pub (PKIX PEM, public). A missing dir is an empty ring.
func Load(dir string) (*Ring, error) {
	r := NewRing()
	names, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key folder %s: %w", dir, err)
	}
	for _, n := range names {
		path := filepath.Join(dir, n.Name())
		switch {
		case strings.HasSuffix(n.Name(), retiredSuffix):
			k, err := ReadPrivate(path)
			if err != nil {
				return nil, err
			}
			origin, _, _ := strings.Cut(n.Name(), ".")
			r.retired[origin] = append(r.retired[origin], k)
		case strings.HasSuffix(n.Name(), firstSuffix):
			k, err := ReadPublic(path)
			if err != nil {
				return nil, err
			}
			r.first[strings.TrimSuffix(n.Name(), firstSuffix)] = k
		case strings.HasSuffix(n.Name(), ".key"):
			k, err := ReadPrivate(path)
			if err != nil {
				return nil, err
			}
			r.Add(strings.TrimSuffix(n.Name(), ".key"), k)
		case strings.HasSuffix(n.Name(), ".pub"):
			origin := strings.TrimSuffix(n.Name(), ".pub")
			k, err := ReadPublic(path)
			if err != nil {
				return nil, err
			}
			if have, ok := r.priv[origin]; ok && !have.Public().(ed25519.PublicKey).Equal(k) {
				return nil, fmt.Errorf("key folder %s: %s.pub does not match %s.key", dir, origin, origin)
			}
			r.pub[origin] = k
		}
	}
	return r, nil
}

// Ensure loads dir and makes a new key for every origin in origins that has
// no private key yet. It returns the origins it made keys for.
func Ensure(dir string, origins []string) (*Ring, []string, error) {
	r, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	var made []string
	for _, o := range origins {
		if _, ok := r.priv[o]; ok {
			continue
		}
		if _, ok := r.pub[o]; ok {
			return nil, nil, fmt.Errorf("key folder %s has %s.pub but not %s.key: this node cannot sign for %s", dir, o, o, o)
		}
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generate key for %s: %w", o, err)
		}
		if err := Write(dir, o, k); err != nil {
			return nil, nil, err
		}
		r.Add(o, k)
		made = append(made, o)
	}
	return r, made, nil
}

// Write stores origin's key pair in dir (the private file readable by the
// owner only), each file written whole or not at all.
func Write(dir, origin string, k ed25519.PrivateKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key folder %s: %w", dir, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("encode key of %s: %w", origin, err)
	}
	if err := WriteFile(filepath.Join(dir, origin+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return WritePublic(dir, origin, k.Public().(ed25519.PublicKey))
}

// WritePublic stores origin's public key alone in dir (a chain this node
// holds but does not sign: a town's villages, the district's chain), so
// that Load finds it and the ledger verifies that chain at open.
func WritePublic(dir, origin string, k ed25519.PublicKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key folder %s: %w", dir, err)
	}
	return writePublic(filepath.Join(dir, origin+".pub"), origin, k)
}

// writePublic writes origin's public key k to path as a PKIX PEM file.
func writePublic(path, origin string, k ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return fmt.Errorf("encode public key of %s: %w", origin, err)
	}
	return WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

// retiredSuffix ends the file of a private key an origin rotated away
// from: <origin>.<fingerprint>.retired.
const retiredSuffix = ".retired"

// Retire keeps origin's private key in dir, if it has one other than
// next, as a retired key before next replaces it (sanzi village rekey):
// what was sealed to the old key can still be opened. A key already
// retired is left alone.
func Retire(dir, origin string, next ed25519.PrivateKey) error {
	old, err := ReadPrivate(filepath.Join(dir, origin+".key"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if old.Equal(next) {
		return nil
	}
	path := filepath.Join(dir, origin+"."+Fingerprint(old.Public().(ed25519.PublicKey))+retiredSuffix)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(old)
	if err != nil {
		return fmt.Errorf("encode retired key of %s: %w", origin, err)
	}
	return WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// firstSuffix names the file of the key a rotated origin's chain starts with.
const firstSuffix = ".first.pub"

// WriteFirst keeps origin's starting key when the node changes the key it
// signs with (sanzi village rekey); a key already kept is left alone, since
// the chain's seq 1 never changes.
func WriteFirst(dir, origin string, k ed25519.PublicKey) error {
	path := filepath.Join(dir, origin+firstSuffix)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return writePublic(path, origin, k)
}

// WriteFile writes data to path whole or not at all: a temporary file,
// synced, renamed over path. Keys and certificates must never be left half
// written by a crash.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return WriteFileFrom(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFrom is WriteFile for content that write streams: nothing at
// path until write returned nil and the file is synced.
func WriteFileFrom(path string, mode os.FileMode, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadPEM returns the DER inside the first PEM block of path, which must be
// of type typ ("PRIVATE KEY", "CERTIFICATE", ...).
func ReadPEM(path, typ string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if b, _ := pem.Decode(data); b != nil && b.Type == typ {
		return b.Bytes, nil
	}
	return nil, fmt.Errorf("read %s: not a PEM %q block", path, typ)
}

// ReadPrivate reads an Ed25519 private key from a PKCS#8 PEM file, the form
// both a node's key folder and the district CA's files use. A key file open
// to group or others is refused (CheckSecret).
func ReadPrivate(path string) (ed25519.PrivateKey, error) {
	if err := CheckSecret(path); err != nil {
		return nil, err
	}
	der, err := ReadPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// ReadPublic reads an Ed25519 public key written by WritePublic.
func ReadPublic(path string) (ed25519.PublicKey, error) {
	der, err := ReadPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse key %s: not an Ed25519 key", path)
	}
	return ek, nil
}

// IsFingerprint says whether s is a Fingerprint as it prints (16 lower-case
// hex digits).
func IsFingerprint(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 8 && s == hex.EncodeToString(b)
}
