// Package complaint holds what every tier knows of a villager's complaint
// (issue 15): its limits and categories, the checks a Complaint entry must
// pass wherever it is read (the district files it, the town opens its
// procedure), its tracking number and secret, the contact sealed to the
// town, and the masking of free text the public pages show.
//
// The district's public site files complaints (federation/public), the
// town handles them (node/town opens GOV-COMPLAINT, node/complaints is the
// desk its reviewers reply from), and the analytics count them in the
// integrity-risk index.
package complaint

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Limits of one complaint (the issue's): the text, the photos and their
// size, the contact, and the posts named.
const (
	MaxText       = 2000
	MaxPhotos     = 3
	MaxPhotoBytes = 5 << 20
	MaxContact    = 100
	MaxPosts      = 5
	// MaxReply bounds a town's reply like a complaint's text.
	MaxReply = 2000
)

// Matter is the catalog's matter a complaint opens at its town.
const Matter = "GOV-COMPLAINT"

// Category is what a complaint is about.
type Category struct {
	Code, Name string
}

// Categories are the public form's choices, in its order.
var Categories = []Category{
	{"finance", "财务收支"},
	{"assets", "集体资产资源"},
	{"contracts", "合同发包与租金"},
	{"works", "工程项目"},
	{"subsidies", "惠农补贴"},
	{"other", "其他"},
}

// CategoryName is a category's name, or its code when unknown.
func CategoryName(code string) string {
	for _, c := range Categories {
		if c.Code == code {
			return c.Name
		}
	}
	return code
}

// Violation is one field of a complaint that does not pass, and why.
type Violation struct {
	Field, Reason string
}

func (v *Violation) Error() string { return v.Field + ": " + v.Reason }

// Check says why c is not a complaint any tier should take, or nil: a
// village of the district with its town, a known category, text within
// its limit, posts of the village tier (villagePosts: the catalog's), at
// most MaxPhotos photos named by hash, a number and a secret hash.
func Check(c *sanziv1.Complaint, district string, villagePosts []string) error {
	bad := func(field, format string, a ...any) error {
		return &Violation{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	lvl, err := idcode.OrgCode(c.GetVillage())
	switch {
	case err != nil || lvl != idcode.LevelVillage:
		return bad("village", "a village's 12-digit code, not %q", c.GetVillage())
	case len(district) >= 6 && c.GetVillage()[:6] != district[:6]:
		return bad("village", "village %s is not of district %s", c.GetVillage(), district)
	case c.GetTown() != c.GetVillage()[:9]+"000":
		return bad("town", "the town of village %s is %s000, not %q", c.GetVillage(), c.GetVillage()[:9], c.GetTown())
	case !slices.ContainsFunc(Categories, func(k Category) bool { return k.Code == c.GetCategory() }):
		return bad("category", "one of %s, not %q", categoryCodes(), c.GetCategory())
	case strings.TrimSpace(c.GetText()) == "":
		return bad("text", "required: say what the complaint is about")
	case !utf8.ValidString(c.GetText()):
		return bad("text", "not valid UTF-8")
	case utf8.RuneCountInString(c.GetText()) > MaxText:
		return bad("text", "%d characters, at most %d", utf8.RuneCountInString(c.GetText()), MaxText)
	case len(c.GetPosts()) > MaxPosts:
		return bad("posts", "%d posts named, at most %d", len(c.GetPosts()), MaxPosts)
	case len(c.GetPhotos()) > MaxPhotos:
		return bad("photos", "%d photos, at most %d", len(c.GetPhotos()), MaxPhotos)
	case !validNumber(c.GetNumber()):
		return bad("number", "a tracking number like 20261126-482913, not %q", c.GetNumber())
	case len(c.GetSecretHash()) != 64:
		return bad("secretHash", "a hex SHA-256")
	}
	for _, p := range c.GetPosts() {
		if !slices.Contains(villagePosts, p) {
			return bad("posts", "%q is not a post of the village (%s)", p, strings.Join(villagePosts, ", "))
		}
	}
	for _, h := range c.GetPhotos() {
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return bad("photos", "%q is not a hex SHA-256", h)
		}
	}
	return nil
}

func categoryCodes() string {
	var out []string
	for _, c := range Categories {
		out = append(out, c.Code)
	}
	return strings.Join(out, ", ")
}

// NewNumber is a tracking number for a complaint filed at: the day (in
// China) and six random digits. The number only finds the complaint; the
// secret opens its status, so numbers need not be unguessable, only rarely
// alike (the filer retries on a number already taken).
func NewNumber(at time.Time) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%s-%06d", at.In(china).Format("20060102"), n.Int64())
}

var china = time.FixedZone("CST", 8*3600)

func validNumber(s string) bool {
	if len(s) != 15 || s[8] != '-' {
		return false
	}
	return strings.Trim(s[:8]+s[9:], "0123456789") == ""
}

// ValidNumber says whether s is spelled as a tracking number.
func ValidNumber(s string) bool { return validNumber(s) }

// secretEncoding spells a secret in letters and digits a person can copy
// from a phone's screen onto paper.
var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret is a complaint's secret: 80 random bits as 16 characters in
// groups of four ("K7QF-2MZA-…"), shown once to the complainant.
func NewSecret() string {
	b := make([]byte, 10)
	rand.Read(b)
	s := secretEncoding.EncodeToString(b)
	return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:]
}

// normalSecret is a secret as typed, without its dashes and spaces, in
// capitals: "k7qf 2mza…" is the same secret.
func normalSecret(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// SecretHash is what the chain keeps of a complaint's secret: hex SHA-256
// of the number and the normalized secret. The secret has 80 random bits,
// so no salt or slow hash is needed against guessing.
func SecretHash(number, secret string) string {
	h := sha256.Sum256([]byte(number + "\n" + normalSecret(secret)))
	return hex.EncodeToString(h[:])
}

// SecretMatches says whether secret is the one c was filed with, in
// constant time.
func SecretMatches(c *sanziv1.Complaint, secret string) bool {
	want := SecretHash(c.GetNumber(), secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(c.GetSecretHash())) == 1
}

// Photo types: a photo is a JPEG or a PNG, told by its first bytes, never
// by the name or type the browser sent.
var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}
)

// ErrPhotoType: content that is neither a JPEG nor a PNG.
var ErrPhotoType = errors.New("complaint: a photo is a JPEG or a PNG")

// PhotoType is the content type of a photo by its magic bytes, or
// ErrPhotoType.
func PhotoType(content []byte) (string, error) {
	switch {
	case len(content) >= len(pngMagic) && string(content[:len(pngMagic)]) == string(pngMagic):
		return "image/png", nil
	case len(content) >= len(jpegMagic) && string(content[:len(jpegMagic)]) == string(jpegMagic):
		return "image/jpeg", nil
	}
	return "", ErrPhotoType
}
