package complaints

import (
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var question = regexp.MustCompile(`^(\d+) (加|乘以) (\d+) 等于几？$`)

// answer does the sum a person does.
func answer(t *testing.T, q string) string {
	t.Helper()
	m := question.FindStringSubmatch(q)
	if m == nil {
		t.Fatalf("question %q", q)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	if m[2] == "加" {
		return strconv.Itoa(a + b)
	}
	return strconv.Itoa(a * b)
}

func TestChallenge(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	c := NewChallenger([]byte("district seed"), 30*time.Minute, clock)
	other := NewChallenger([]byte("district seed"), 30*time.Minute, clock) // another member, the same chain key
	stranger := NewChallenger([]byte("another district"), 30*time.Minute, clock)
	const village = "350505100201"

	q := c.New(village)
	right := answer(t, q.Question)
	wrong := right + "1"
	for _, tc := range []struct {
		name                string
		ch                  *Challenger
		token, ans, village string
		want                error
	}{
		{"wrong answer", c, q.Token, wrong, village, ErrChallengeWrong},
		{"not a number", c, q.Token, "十二", village, ErrChallengeWrong},
		{"another village's form", c, q.Token, right, "350505100202", ErrChallengeWrong},
		{"another district's key", stranger, q.Token, right, village, ErrChallengeWrong},
		{"no token", c, "", right, village, ErrChallengeMalformed},
		{"a token cut short", c, q.Token[:10], right, village, ErrChallengeMalformed},
		{"right, at another member", other, q.Token, right, village, nil},
		{"right", c, q.Token, " " + right + " ", village, nil},
	} {
		if _, _, err := tc.ch.Check(tc.token, tc.ans, tc.village); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	nonce, until, err := c.Check(q.Token, right, village)
	if err != nil || !until.Equal(now.Add(30*time.Minute).Truncate(time.Second)) {
		t.Fatalf("check: %v, until %v", err, until)
	}
	c.Spend(nonce, until)
	if _, _, err := c.Check(q.Token, right, village); !errors.Is(err, ErrChallengeUsed) {
		t.Fatalf("answered twice: %v, want ErrChallengeUsed", err)
	}
	q2 := c.New(village)
	now = now.Add(31 * time.Minute)
	if _, _, err := c.Check(q2.Token, answer(t, q2.Question), village); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("after 31 minutes: %v, want ErrChallengeExpired", err)
	}
	if q3, q4 := c.New(village), c.New(village); q3.Token == q4.Token {
		t.Fatal("two questions with one token")
	}
}
