package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/keys"
)

// savedToken is what `sanzi login` keeps for one server: the bearer token
// (a secret, shown by the node once) and what to tell the person about it.
type savedToken struct {
	Token     string    `json:"token"`
	Account   string    `json:"account"`
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// tokenFile is the JSON layout of tokens.json, keyed by the --server
// address exactly as given, so that two nodes never share a token.
type tokenFile struct {
	Servers map[string]savedToken `json:"servers"`
}

// tokenStore is the file of bearer tokens in the user's config folder
// (os.UserConfigDir()/sanzi/tokens.json). The folder is made mode 0700 and
// the file written 0600 by a rename, so a half-written file is never read;
// a file another account on the machine could read is refused, like the
// node's own secrets (keys.CheckSecret).
type tokenStore struct {
	path string
}

// maxTokenFile bounds what is read back: a few hundred servers at most.
const maxTokenFile = 1 << 20

// defaultTokenStore is the store in the user's config folder.
func defaultTokenStore() (*tokenStore, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("find the config folder for saved sign-ins (set $XDG_CONFIG_HOME or $HOME, or give --token): %w", err)
	}
	return &tokenStore{path: filepath.Join(dir, "sanzi", "tokens.json")}, nil
}

// load reads the file; a missing file is an empty store.
func (s *tokenStore) load() (tokenFile, error) {
	f := tokenFile{Servers: map[string]savedToken{}}
	if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	raw, err := keys.ReadSecret(s.path)
	if err != nil {
		return f, fmt.Errorf("read saved sign-ins: %w", err)
	}
	if len(raw) > maxTokenFile {
		return f, fmt.Errorf("read saved sign-ins: %s is %d bytes, more than %d", s.path, len(raw), maxTokenFile)
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("read saved sign-ins: %s: %w (remove it and sign in again)", s.path, err)
	}
	if f.Servers == nil {
		f.Servers = map[string]savedToken{}
	}
	return f, nil
}

// save writes f with mode 0600 in a folder of mode 0700.
func (s *tokenStore) save(f tokenFile) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	// MkdirAll leaves an existing folder's mode alone; this one is ours.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tokens-*.json")
	if err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save sign-in: %w", err)
	}
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save sign-in: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save sign-in: %w", err)
	}
	return nil
}

// serverKey is how a --server address is filed: as given, without spaces.
func serverKey(server string) string { return strings.TrimSpace(server) }

// get returns the token saved for server, if any.
func (s *tokenStore) get(server string) (savedToken, bool, error) {
	f, err := s.load()
	if err != nil {
		return savedToken{}, false, err
	}
	t, ok := f.Servers[serverKey(server)]
	return t, ok, nil
}

// put saves t for server, replacing an earlier one.
func (s *tokenStore) put(server string, t savedToken) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	f.Servers[serverKey(server)] = t
	return s.save(f)
}

// remove deletes the token saved for server and reports whether there was one.
func (s *tokenStore) remove(server string) (bool, error) {
	f, err := s.load()
	if err != nil {
		return false, err
	}
	if _, ok := f.Servers[serverKey(server)]; !ok {
		return false, nil
	}
	delete(f.Servers, serverKey(server))
	return true, s.save(f)
}
