package accounts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/sanzi/sanzi/node/books"
)

// Params are argon2id's cost parameters. They are recorded with every hash
// (in the PHC string "$argon2id$v=19$m=…,t=…,p=…$salt$hash"), so raising
// them later leaves old hashes verifiable; a hash is re-made with the
// current parameters at the next successful sign-in.
type Params struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultParams are RFC 9106's second recommended option (t=3, 64 MiB) with
// two lanes, for nodes of two cores: about a fifth of a second per sign-in
// on a small machine, which a person does not notice and a guesser with the
// stolen credentials.db pays per guess. Memory, not time, is what a GPU
// lacks, so it stays at 64 MiB; Config.MaxHashing bounds how many hashes run
// at once (and so the memory a flood of sign-ins can take). Tests pass
// lighter parameters in Config.Argon; one test checks these.
var DefaultParams = Params{Time: 3, Memory: 64 * 1024, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
	// minPassword is short enough to type, long enough that the throttle
	// makes guessing online hopeless.
	minPassword = 10
	// maxPassword bounds what argon2 is fed from a request.
	maxPassword = 256
)

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of password under p with a fresh salt.
func hashPassword(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// parseHash reads a PHC string made by hashPassword.
func parseHash(phc string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: version %q, want v=%d", parts[2], argon2.Version)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q: %w", parts[3], err)
	}
	if p.Time == 0 || p.Memory == 0 || p.Threads == 0 {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q: zero cost", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("password hash: salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return p, nil, nil, fmt.Errorf("password hash: key: %v", err)
	}
	return p, salt, key, nil
}

// checkPassword reports whether password matches phc, comparing in
// constant time, and the parameters phc was made with.
func checkPassword(phc, password string) (bool, Params, error) {
	p, salt, key, err := parseHash(phc)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// passwordProblem says what is wrong with a new password, or "".
func passwordProblem(pw string) string {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return "is not valid UTF-8"
	case n < minPassword:
		return fmt.Sprintf("is %d characters long; at least %d", n, minPassword)
	case len(pw) > maxPassword:
		return fmt.Sprintf("is %d bytes long; at most %d", len(pw), maxPassword)
	}
	return ""
}

// otpAlphabet has 32 symbols without look-alikes (0/O, 1/l/I).
const otpAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// oneTimePassword returns 20 random symbols (100 bits), grouped by dashes
// to be read out over the phone.
func oneTimePassword() (string, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("make one-time password: %w", err)
	}
	var b strings.Builder
	for i, c := range raw {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(otpAlphabet[c&31])
	}
	return b.String(), nil
}

// SetPasswordAtCost sets the password of the existing account id, hashed at
// cost instead of Config.Argon, with no change asked at the next sign-in;
// the cost stays with the hash (its PHC string) and sign-ins keep it, until
// the account changes its password (then Config.Argon again).
//
// It is for passwords that are public anyway: `sanzi demo` gives its demo
// accounts a published password at a cheap cost, because its seeding signs
// in thousands of times and a costly hash protects nothing that is printed
// on the screen. It is not reachable from any API: only a process that
// opens the node's accounts itself can choose a cost, and every other
// account keeps the node's.
func (s *Service) SetPasswordAtCost(ctx context.Context, id, password string, cost Params) error {
	if cost.Time == 0 || cost.Memory < 8 || cost.Threads == 0 {
		return fmt.Errorf("set password of %s: cost %+v: every cost must be positive (memory at least 8 KiB)", id, cost)
	}
	if p := passwordProblem(password); p != "" {
		return books.Invalid("password", "%s", p)
	}
	if _, ok := s.account(id); !ok {
		return fmt.Errorf("set password of %s: %w", id, ErrNotFound)
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	hash, err := hashPassword(password, cost)
	s.release()
	if err != nil {
		return fmt.Errorf("set password of %s: %w", id, err)
	}
	if err := s.creds.setPassword(ctx, id, passwordRec{Hash: hash, SetAt: s.cfg.Now(), Chosen: true}); err != nil {
		return fmt.Errorf("set password of %s: %w", id, err)
	}
	s.log.Info("password set at a chosen cost", "event", "password.set_at_cost", "account", id, "time", cost.Time, "memoryKiB", cost.Memory, "threads", cost.Threads)
	return nil
}
