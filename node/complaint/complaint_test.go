package complaint

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestSealOpensOnlyWithTheTownsKey(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	plain := []byte("王五 13800135678")
	sealed, err := Seal(pub, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("13800135678")) {
		t.Fatal("the seal holds the contact in clear")
	}
	got, err := Open(priv, sealed)
	if err != nil || string(got) != string(plain) {
		t.Fatalf("open with the town's key: %q, %v", got, err)
	}
	if _, err := Open(other, sealed); !errors.Is(err, ErrSealed) {
		t.Fatalf("open with another key: %v, want ErrSealed", err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	if _, err := Open(priv, flipped); !errors.Is(err, ErrSealed) {
		t.Fatalf("open an edited seal: %v, want ErrSealed", err)
	}
	again, _ := Seal(pub, plain)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one contact are alike: the ephemeral key is not fresh")
	}
	// The X25519 twin of the Ed25519 public key is the public key of the
	// twin of its private key: the map is the one RFC 7748 gives.
	m, err := montgomery(pub)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := scalar(priv)
	if !bytes.Equal(m.Bytes(), s.PublicKey().Bytes()) {
		t.Fatal("the X25519 public key from the Ed25519 public key differs from the one from its private key")
	}
}

func TestCheck(t *testing.T) {
	ok := func() *sanziv1.Complaint {
		return &sanziv1.Complaint{Number: "20261126-482913", Village: "350505100201", Town: "350505100000", Category: "finance",
			Text: "村里修路的钱去向不明", Posts: []string{"village.head"}, SecretHash: strings.Repeat("ab", 32),
			Photos: []string{strings.Repeat("0f", 32)}}
	}
	posts := []string{"village.head", "village.accountant"}
	if err := Check(ok(), "350505000000", posts); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		edit  func(*sanziv1.Complaint)
	}{
		{"village", func(c *sanziv1.Complaint) { c.Village = "350505100000" }},
		{"village", func(c *sanziv1.Complaint) { c.Village, c.Town = "350506100201", "350506100000" }},
		{"town", func(c *sanziv1.Complaint) { c.Town = "350505200000" }},
		{"category", func(c *sanziv1.Complaint) { c.Category = "gossip" }},
		{"text", func(c *sanziv1.Complaint) { c.Text = "  " }},
		{"text", func(c *sanziv1.Complaint) { c.Text = strings.Repeat("钱", MaxText+1) }},
		{"posts", func(c *sanziv1.Complaint) { c.Posts = []string{"town.leader"} }},
		{"photos", func(c *sanziv1.Complaint) { c.Photos = []string{"a", "b", "c", "d"} }},
		{"photos", func(c *sanziv1.Complaint) { c.Photos = []string{"not-a-hash"} }},
		{"number", func(c *sanziv1.Complaint) { c.Number = "1" }},
		{"secretHash", func(c *sanziv1.Complaint) { c.SecretHash = "" }},
	} {
		x := ok()
		c.edit(x)
		var v *Violation
		if err := Check(x, "350505000000", posts); !errors.As(err, &v) || v.Field != c.field {
			t.Errorf("%s: %v, want a violation of %s", c.field, err, c.field)
		}
	}
	if err := Check(&sanziv1.Complaint{Number: "20261126-482913", Village: "350505100201", Town: "350505100000", Category: "other",
		Text: strings.Repeat("钱", MaxText), SecretHash: strings.Repeat("ab", 32)}, "350505000000", posts); err != nil {
		t.Fatalf("a text of exactly %d characters: %v", MaxText, err)
	}
}

func TestNumberAndSecret(t *testing.T) {
	at := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC) // 01:00 on the 26th in China
	n := NewNumber(at)
	if !strings.HasPrefix(n, "20261126-") || !ValidNumber(n) {
		t.Fatalf("number %q", n)
	}
	s := NewSecret()
	if len(s) != 19 || strings.Count(s, "-") != 3 {
		t.Fatalf("secret %q", s)
	}
	c := &sanziv1.Complaint{Number: n, SecretHash: SecretHash(n, s)}
	typed := strings.ToLower(strings.ReplaceAll(s, "-", " "))
	if !SecretMatches(c, s) || !SecretMatches(c, typed) {
		t.Fatal("the secret, or the secret typed in small letters with spaces, does not match")
	}
	if SecretMatches(c, NewSecret()) || SecretMatches(&sanziv1.Complaint{Number: "20261126-000001", SecretHash: c.SecretHash}, s) {
		t.Fatal("another secret, or the secret with another number, matches")
	}
}

func TestPhotoType(t *testing.T) {
	for _, c := range []struct {
		content []byte
		want    string
	}{
		{[]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F'}, "image/jpeg"},
		{[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), "image/png"},
		{[]byte("GIF89a"), ""},
		{[]byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), ""},
		{[]byte{0xFF, 0xD8}, ""},
		{nil, ""},
	} {
		got, err := PhotoType(c.content)
		if got != c.want || (c.want == "") != errors.Is(err, ErrPhotoType) {
			t.Errorf("%q: %q %v, want %q", c.content, got, err, c.want)
		}
	}
}

// TestOpenAny: a contact sealed to a key the town has since rotated away
// from opens with the retired key, in any order of the keys; without it,
// nothing opens it.
func TestOpenAny(t *testing.T) {
	gen := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	old, cur, other := gen(), gen(), gen()
	sealed, err := Seal(old.Public().(ed25519.PublicKey), []byte("王五 13912345678"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		keys []ed25519.PrivateKey
		ok   bool
	}{
		{"current, then retired", []ed25519.PrivateKey{cur, old}, true},
		{"retired first", []ed25519.PrivateKey{old, cur}, true},
		{"current only", []ed25519.PrivateKey{cur}, false},
		{"others only", []ed25519.PrivateKey{cur, other}, false},
		{"no key", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			plain, err := OpenAny(sealed, c.keys...)
			if c.ok != (err == nil) || (c.ok && string(plain) != "王五 13912345678") || (!c.ok && !errors.Is(err, ErrSealed)) {
				t.Errorf("opened %q, %v", plain, err)
			}
		})
	}
}
