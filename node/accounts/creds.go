package accounts

import (
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

var (
	bucketPasswords = []byte("passwords") // account id → passwordRec (JSON)
	bucketTokens    = []byte("tokens")    // SHA-256 of the secret → tokenRec (JSON)
)

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

type credStore struct{ db *bolt.DB }

func openCreds(path string, noSync bool) (*credStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("open credentials %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPasswords, bucketTokens} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open credentials %s: create buckets: %w", path, err)
	}
	return &credStore{db: db}, nil
}

func (c *credStore) close() error { return c.db.Close() }

func (c *credStore) setPassword(account string, r passwordRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPasswords).Put([]byte(account), v) })
}

func (c *credStore) password(account string) (passwordRec, bool, error) {
	var r passwordRec
	var found bool
	err := c.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPasswords).Get([]byte(account))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return r, false, fmt.Errorf("read password of %s: %w", account, err)
	}
	return r, found, nil
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

func (c *credStore) putToken(h [32]byte, r tokenRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketTokens).Put(h[:], v) })
}

func (c *credStore) token(h [32]byte) (tokenRec, bool, error) {
	var r tokenRec
	var found bool
	err := c.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get(h[:])
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return r, false, fmt.Errorf("read credential: %w", err)
	}
	return r, found, nil
}

func (c *credStore) deleteToken(h [32]byte) (bool, error) {
	var found bool
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		found = b.Get(h[:]) != nil
		return b.Delete(h[:])
	})
	return found, err
}

// deleteWhere removes every credential drop accepts and returns them.
func (c *credStore) deleteWhere(drop func(tokenRec) bool) ([]tokenRec, error) {
	var out []tokenRec
	err := c.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var keys [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var r tokenRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("credential %x: %w", k[:6], err)
			}
			if drop(r) {
				keys = append(keys, append([]byte(nil), k...))
				out = append(out, r)
			}
			return nil
		})
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
	return out, err
}

// tokens lists the credentials keep accepts.
func (c *credStore) tokens(keep func(tokenRec) bool) ([]tokenRec, error) {
	var out []tokenRec
	err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var r tokenRec
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("credential %x: %w", k[:6], err)
			}
			if keep(r) {
				out = append(out, r)
			}
			return nil
		})
	})
	return out, err
}
