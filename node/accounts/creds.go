package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// credentials.db holds what proves who someone is: password hashes and the
// SHA-256 of every bearer token and session id. It is a file of its own, not
// buckets in ledger.db, because ledger.db is the chain's: it is copied to
// auditors, read by `sanzi verify` and backtests, and rebuilt from the
// parent's copy by `sanzi repair` (which would lose the credentials, or
// carry them along). Keeping secrets apart means no tool that handles the
// chain ever touches one, and a sign-in never waits behind the ledger's
// group commit. Nothing in it is synced.

// Kind is what a credential is for.
type Kind string

// Credential kinds.
const (
	// KindToken is a bearer token for scripts and the CLI.
	KindToken Kind = "token"
	// KindSession is a browser session id (the cookie's value); requests
	// that change state also need its CSRF token.
	KindSession Kind = "session"
)

type passwordRec struct {
	Hash       string    `json:"hash"` // PHC string: parameters and salt with it
	MustChange bool      `json:"mustChange"`
	SetAt      time.Time `json:"setAt"`
	// Chosen marks a hash made at a cost its setter chose
	// (SetPasswordAtCost: a demo's public accounts); a sign-in keeps it
	// instead of re-making it under Config.Argon. A password change clears
	// it: the new hash is made at the node's cost.
	Chosen bool `json:"chosen,omitempty"`
}

type tokenRec struct {
	ID      string    `json:"id"`
	Account string    `json:"account"`
	Kind    Kind      `json:"kind"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Address string    `json:"address,omitempty"`
	// CSRF is a session's CSRF token. It is kept as it is (the page needs
	// it back) and is worth nothing without the session id, which is kept
	// only as a hash.
	CSRF string `json:"csrf,omitempty"`
}

// Secrets is where a Service keeps credentials: two buckets
// (BucketPasswords, BucketTokens) of opaque values the Service encodes. A
// node keeps them in credentials.db (OpenSecretsFile); a district member in
// its replicated state, so that a person signs in at any member and a
// revoked token is refused by every member at once (federation/member).
// Writes take effect for every later Get before they return.
type Secrets interface {
	// Get returns the value under key, nil when there is none.
	Get(bucket string, key []byte) ([]byte, error)
	// Put stores value under key.
	Put(ctx context.Context, bucket string, key, value []byte) error
	// Delete removes keys; a missing key is not an error.
	Delete(ctx context.Context, bucket string, keys ...[]byte) error
	// ForEach calls fn with every key and value of bucket, in key order,
	// stopping at fn's first error.
	ForEach(bucket string, fn func(k, v []byte) error) error
	// Close releases the store.
	Close() error
}

// The buckets of Secrets.
const (
	BucketPasswords = "passwords" // account id → passwordRec (JSON)
	BucketTokens    = "tokens"    // SHA-256 of the secret → tokenRec (JSON)
)

// fileSecrets is Secrets in a bbolt file of its own (credentials.db).
type fileSecrets struct{ db *bolt.DB }

// OpenSecretsFile opens (or creates) the credentials file at path.
func OpenSecretsFile(path string, noSync bool) (Secrets, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("open credentials %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{BucketPasswords, BucketTokens} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open credentials %s: create buckets: %w", path, err)
	}
	return &fileSecrets{db: db}, nil
}

func (f *fileSecrets) Close() error { return f.db.Close() }

func (f *fileSecrets) bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("credentials: no bucket %q", name)
	}
	return b, nil
}

func (f *fileSecrets) Get(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := f.db.View(func(tx *bolt.Tx) error {
		b, err := f.bucket(tx, bucket)
		if err != nil {
			return err
		}
		if v := b.Get(key); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

func (f *fileSecrets) Put(_ context.Context, bucket string, key, value []byte) error {
	return f.db.Update(func(tx *bolt.Tx) error {
		b, err := f.bucket(tx, bucket)
		if err != nil {
			return err
		}
		return b.Put(key, value)
	})
}

func (f *fileSecrets) Delete(_ context.Context, bucket string, keys ...[]byte) error {
	return f.db.Update(func(tx *bolt.Tx) error {
		b, err := f.bucket(tx, bucket)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fileSecrets) ForEach(bucket string, fn func(k, v []byte) error) error {
	return f.db.View(func(tx *bolt.Tx) error {
		b, err := f.bucket(tx, bucket)
		if err != nil {
			return err
		}
		return b.ForEach(fn)
	})
}

// credStore encodes the Service's records into Secrets, beside the sign-in
// audit (signins.go) when the Service keeps one.
type credStore struct {
	sec   Secrets
	audit *SignInLog
}

func (c *credStore) close() error {
	if c.audit != nil {
		if err := c.audit.Close(); err != nil {
			c.sec.Close()
			return err
		}
	}
	return c.sec.Close()
}

func (c *credStore) setPassword(ctx context.Context, account string, r passwordRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.sec.Put(ctx, BucketPasswords, []byte(account), v)
}

func (c *credStore) password(account string) (passwordRec, bool, error) {
	var r passwordRec
	v, err := c.sec.Get(BucketPasswords, []byte(account))
	if err == nil && v != nil {
		err = json.Unmarshal(v, &r)
	}
	if err != nil {
		return r, false, fmt.Errorf("read password of %s: %w", account, err)
	}
	return r, v != nil, nil
}

// newSecret returns a random credential ("sz_" and 32 random bytes in
// base64url) and the SHA-256 it is stored under.
func newSecret() (string, [32]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", [32]byte{}, fmt.Errorf("make credential: %w", err)
	}
	s := "sz_" + base64.RawURLEncoding.EncodeToString(raw)
	return s, sha256.Sum256([]byte(s)), nil
}

// tokenID names a credential in lists without revealing it: the first 12
// hex digits of its hash.
func tokenID(h [32]byte) string { return hex.EncodeToString(h[:6]) }

func (c *credStore) putToken(ctx context.Context, h [32]byte, r tokenRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.sec.Put(ctx, BucketTokens, h[:], v)
}

func (c *credStore) token(h [32]byte) (tokenRec, bool, error) {
	var r tokenRec
	v, err := c.sec.Get(BucketTokens, h[:])
	if err == nil && v != nil {
		err = json.Unmarshal(v, &r)
	}
	if err != nil {
		return r, false, fmt.Errorf("read credential: %w", err)
	}
	return r, v != nil, nil
}

func (c *credStore) deleteToken(ctx context.Context, h [32]byte) (bool, error) {
	v, err := c.sec.Get(BucketTokens, h[:])
	if err != nil || v == nil {
		return false, err
	}
	return true, c.sec.Delete(ctx, BucketTokens, h[:])
}

// deleteWhere removes every credential drop accepts and returns them.
func (c *credStore) deleteWhere(ctx context.Context, drop func(tokenRec) bool) ([]tokenRec, error) {
	var out []tokenRec
	var keys [][]byte
	err := c.sec.ForEach(BucketTokens, func(k, v []byte) error {
		var r tokenRec
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("credential %x: %w", k[:min(6, len(k))], err)
		}
		if drop(r) {
			keys = append(keys, append([]byte(nil), k...))
			out = append(out, r)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return out, err
	}
	return out, c.sec.Delete(ctx, BucketTokens, keys...)
}

// tokens lists the credentials keep accepts.
func (c *credStore) tokens(keep func(tokenRec) bool) ([]tokenRec, error) {
	var out []tokenRec
	err := c.sec.ForEach(BucketTokens, func(k, v []byte) error {
		var r tokenRec
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("credential %x: %w", k[:min(6, len(k))], err)
		}
		if keep(r) {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
