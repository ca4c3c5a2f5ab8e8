package complaints

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A complaint form carries an arithmetic question and a token. Answering
// needs no script, no account and no third party; the server keeps no
// state for a question it asked: the token holds a random nonce and an
// expiry, and an HMAC binds them, the village and the right answer under
// a key every member derives from the district chain's key (so a form
// fetched from one member is answered at any). A bot can do arithmetic;
// what the question stops is a blind flood of posts that never fetched the
// form, and (since another site cannot read the form across origins) a
// form posted from elsewhere. Each nonce is answered once: a member
// remembers the nonces it took until they expire, and every member refuses
// a nonce already in a complaint of the district's chain (Index), so a
// replay to another member fails too once the first filing is committed.

// Errors of a challenge's check; the form says each to the villager.
var (
	// ErrChallengeMalformed: no token, or one this district did not make.
	ErrChallengeMalformed = errors.New("complaints: the form's question is missing or was not asked here")
	// ErrChallengeExpired: the question was asked too long ago.
	ErrChallengeExpired = errors.New("complaints: the form's question has expired")
	// ErrChallengeWrong: the answer is wrong.
	ErrChallengeWrong = errors.New("complaints: the answer to the form's question is wrong")
	// ErrChallengeUsed: the question was answered before (a replay).
	ErrChallengeUsed = errors.New("complaints: the form's question was already answered once")
)

// DefaultChallengeTTL is how long a question may be answered: time to
// write a complaint and pick photos on a phone.
const DefaultChallengeTTL = 30 * time.Minute

// Challenger asks questions and checks answers.
type Challenger struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu   sync.Mutex
	used map[string]time.Time // nonce → expiry
}

// NewChallenger derives the question key from secret (the district
// chain's private key seed: the same at every member); ttl <= 0 is
// DefaultChallengeTTL; now nil is time.Now.
func NewChallenger(secret []byte, ttl time.Duration, now func() time.Time) *Challenger {
	if ttl <= 0 {
		ttl = DefaultChallengeTTL
	}
	if now == nil {
		now = time.Now
	}
	k := sha256.Sum256(append([]byte("sanzi complaint challenge v1\n"), secret...))
	return &Challenger{key: k[:], ttl: ttl, now: now, used: map[string]time.Time{}}
}

// Challenge is one question with its token.
type Challenge struct {
	// Question is what the form asks, in Chinese ("7 加 5 等于几？").
	Question string
	// Token goes back with the answer.
	Token string
}

const nonceSize = 12

// New asks a question for a complaint about village.
func (c *Challenger) New(village string) Challenge {
	a, b := small(2, 20), small(2, 20)
	q, answer := fmt.Sprintf("%d 加 %d 等于几？", a, b), a+b
	if small(0, 2) == 1 {
		a, b = small(2, 10), small(2, 10)
		q, answer = fmt.Sprintf("%d 乘以 %d 等于几？", a, b), a*b
	}
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	exp := uint64(c.now().Add(c.ttl).Unix())
	raw := binary.BigEndian.AppendUint64(nonce, exp)
	raw = append(raw, c.mac(nonce, exp, village, answer)...)
	return Challenge{Question: q, Token: base64.RawURLEncoding.EncodeToString(raw)}
}

// small is a random integer in [lo, hi).
func small(lo, hi int64) int64 {
	n, _ := rand.Int(rand.Reader, big.NewInt(hi-lo))
	return lo + n.Int64()
}

func (c *Challenger) mac(nonce []byte, exp uint64, village string, answer int64) []byte {
	m := hmac.New(sha256.New, c.key)
	fmt.Fprintf(m, "%x\n%d\n%s\n%d", nonce, exp, village, answer)
	return m.Sum(nil)[:16]
}

// Check checks answer to the question of token for village, and returns
// the token's nonce (hex) and when it expires; it does not spend it (Spend
// does, once the complaint is taken). A nonce this member spent is
// ErrChallengeUsed; the caller asks the replicated index for the others.
func (c *Challenger) Check(token, answer, village string) (string, time.Time, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(raw) != nonceSize+8+16 {
		return "", time.Time{}, ErrChallengeMalformed
	}
	nonce, exp, sum := raw[:nonceSize], binary.BigEndian.Uint64(raw[nonceSize:nonceSize+8]), raw[nonceSize+8:]
	n, err := strconv.ParseInt(strings.TrimSpace(answer), 10, 64)
	if err != nil || !hmac.Equal(sum, c.mac(nonce, exp, village, n)) {
		// A token not made here, or for another village, reads as a wrong
		// answer too: the MAC cannot tell which.
		return "", time.Time{}, ErrChallengeWrong
	}
	until := time.Unix(int64(exp), 0)
	if !c.now().Before(until) {
		return "", time.Time{}, ErrChallengeExpired
	}
	id := hex.EncodeToString(nonce)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.used[id]; ok {
		return "", time.Time{}, ErrChallengeUsed
	}
	return id, until, nil
}

// maxUsed bounds the nonces one member remembers; past it, expired ones
// are dropped first, and if too few have expired, others go until half remain (the
// replicated index still refuses those that were filed).
const maxUsed = 100_000

// Spend marks a nonce answered until it expires.
func (c *Challenger) Spend(nonce string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.used) >= maxUsed {
		now := c.now()
		for k, t := range c.used {
			if !now.Before(t) {
				delete(c.used, k)
			}
		}
		for k := range c.used {
			if len(c.used) < maxUsed/2 {
				break
			}
			delete(c.used, k)
		}
	}
	c.used[nonce] = until
}
