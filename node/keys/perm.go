package keys

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// ErrExposed is returned when a private key or secret file may be read (or
// written) by the file's group or by others. It is refused rather than
// warned about: a node that starts anyway keeps running on a key that other
// accounts on the machine may already have copied, which nobody would know.
var ErrExposed = errors.New("keys: secret file open to group or others")

// CheckSecret refuses path when its permissions give the group or others
// any access (as ssh does for its keys), naming the file and the chmod that
// fixes it. Every private key and secret file a node reads passes here:
// keys under the data folder's keys/, TLS keys in --tls-dir, the CA key
// and --webhook-secret-file. Windows has no such bits and is not checked.
func CheckSecret(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("check permissions of %s: %w", path, err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, open to its group or to other accounts on this machine; run `chmod 600 %s` (and replace the key or secret if someone else may have read it): %w",
			path, perm, path, ErrExposed)
	}
	return nil
}

// ReadSecret reads a secret file after CheckSecret.
func ReadSecret(path string) ([]byte, error) {
	if err := CheckSecret(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
