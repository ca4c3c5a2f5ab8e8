package districtchain

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/watch"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// draft is a rule-set draft of the chain and the account whose entry it is.
type draft struct {
	v      *sanziv1.RuleSetVersion
	author string
}

// ruleSets reads the rule-set entries of the chain, oldest first, and the
// head after them.
func (c *Chain) ruleSets(ctx context.Context) ([]draft, ledger.Head, error) {
	var out []draft
	head, err := c.Read(ctx, func(s *ledger.Stored) error {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_RULE_SET {
			return nil
		}
		if m, err := entries.Decode(s.Type, s.Payload); err == nil {
			out = append(out, draft{v: m.(*sanziv1.RuleSetVersion), author: s.Author})
		}
		return nil
	})
	return out, head, err
}

// SubmitRuleSet records raw, a rule set as JSON, as a draft by author. The
// set must compile with its stateful rules and its version be new to the
// chain. It returns the version and the draft's entry id.
func (c *Chain) SubmitRuleSet(ctx context.Context, author string, raw []byte) (version, id string, err error) {
	e, err := watch.ParseRuleSet(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: rulesJson: %w", ErrInvalid, err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	sets, head, err := c.ruleSets(ctx)
	if err != nil {
		return "", "", err
	}
	for _, d := range sets {
		if d.v.GetVersion() == e.Version() {
			return "", "", fmt.Errorf("rule set %s already exists in the district's chain: %w", e.Version(), ErrExists)
		}
	}
	sum := sha256.Sum256(raw)
	id, err = c.Append(ctx, head, author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, &sanziv1.RuleSetVersion{Org: c.origin, Version: e.Version(),
		State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT, RulesJson: string(raw), DraftedBy: author, Sha256: hex.EncodeToString(sum[:])})
	return e.Version(), id, err
}

// PublishRuleSet publishes the chain's draft of version, by author, who
// must not be the account that drafted it (entries.FourEyes: the nodes
// that apply it check again). It returns the publication's entry id.
func (c *Chain) PublishRuleSet(ctx context.Context, author, version string) (string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	sets, head, err := c.ruleSets(ctx)
	if err != nil {
		return "", err
	}
	var found *draft
	for i, d := range sets {
		if d.v.GetVersion() != version {
			continue
		}
		if d.v.GetState() == sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED {
			return "", fmt.Errorf("rule set %s is %w", version, ErrPublished)
		}
		found = &sets[i]
	}
	if found == nil {
		return "", fmt.Errorf("%w %s in the district's chain", ErrNoDraft, version)
	}
	if err := entries.FourEyes(author, found.v.GetDraftedBy(), found.author); err != nil {
		return "", fmt.Errorf("%s drafted rule set %s; %w", author, version, err)
	}
	return c.Append(ctx, head, author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, &sanziv1.RuleSetVersion{Org: c.origin, Version: version,
		State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED, DraftedBy: found.v.GetDraftedBy(), Sha256: found.v.GetSha256()})
}

// catalogEntry is a catalog entry of the chain, its author and the sum of
// its payload as stored (what a publication's sha256 names).
type catalogEntry struct {
	cat    *sanziv1.Catalog
	author string
	sha    string
}

// catalogs reads the catalog entries of the chain, oldest first, and the
// head after them.
func (c *Chain) catalogs(ctx context.Context) ([]catalogEntry, ledger.Head, error) {
	var out []catalogEntry
	head, err := c.Read(ctx, func(s *ledger.Stored) error {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION {
			return nil
		}
		if m, err := entries.Decode(s.Type, s.Payload); err == nil {
			out = append(out, catalogEntry{cat: m.(*sanziv1.Catalog), author: s.Author, sha: catalog.PayloadSum(s.Payload)})
		}
		return nil
	})
	return out, head, err
}

// DraftCatalog records a catalog version as a draft by author: cat (nil:
// the built-in default for the district) under version (empty: cat's own).
// It must have a version of its own, new to the chain, be the district's,
// and validate (catalog.Validate: the nodes pass over one that does not).
// It is inert until another account publishes it (PublishCatalog). It
// returns what it drafted and the entry id.
func (c *Chain) DraftCatalog(ctx context.Context, author string, cat *sanziv1.Catalog, version string) (*sanziv1.Catalog, string, error) {
	district := c.origin[:6]
	if cat == nil {
		cat = catalog.Default(district)
	} else {
		cat = proto.CloneOf(cat)
	}
	if version != "" {
		cat.Version = version
	}
	switch {
	case cat.GetVersion() == "" || cat.GetVersion() == "default":
		return nil, "", onField("version", ErrCatalogVersion)
	case cat.GetDistrict() != district:
		return nil, "", onField("district", fmt.Errorf("%w: it is for district %q, not %s", ErrOtherDistrict, cat.GetDistrict(), district))
	}
	if err := catalog.Validate(cat); err != nil {
		return nil, "", fmt.Errorf("%w: the catalog does not validate:\n%w", ErrInvalid, err)
	}
	cat.State, cat.DraftedBy, cat.PublishedBy, cat.Sha256 = sanziv1.CatalogState_CATALOG_STATE_DRAFT, author, "", ""
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cats, head, err := c.catalogs(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, e := range cats {
		if e.cat.GetVersion() == cat.GetVersion() {
			return nil, "", onField("version", fmt.Errorf("catalog %s already exists in the district's chain: %w", cat.GetVersion(), ErrExists))
		}
	}
	id, err := c.Append(ctx, head, author, sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, cat)
	return cat, id, err
}

// fieldMarked is an error about one field of the request: its text is
// err's, and an *entries.FieldError naming the field is in its tree for
// an API to tell the form which field to mark.
type fieldMarked struct {
	err error
	fe  *entries.FieldError
}

func (e fieldMarked) Error() string   { return e.err.Error() }
func (e fieldMarked) Unwrap() []error { return []error{e.err, e.fe} }

// onField marks err as about field.
func onField(field string, err error) error {
	return fieldMarked{err: err, fe: &entries.FieldError{Field: field, Reason: err.Error()}}
}

// PublishCatalog publishes the chain's catalog draft of version, by
// author, who must not be the account that drafted it (entries.FourEyes:
// the nodes that apply it check again, catalog.Published). It returns the
// catalog now in force (the draft's, naming drafter and publisher) and the
// publication's entry id.
func (c *Chain) PublishCatalog(ctx context.Context, author, version string) (*sanziv1.Catalog, string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cats, head, err := c.catalogs(ctx)
	if err != nil {
		return nil, "", err
	}
	var found *catalogEntry
	for i, e := range cats {
		if e.cat.GetVersion() != version {
			continue
		}
		switch e.cat.GetState() {
		case sanziv1.CatalogState_CATALOG_STATE_PUBLISHED, sanziv1.CatalogState_CATALOG_STATE_UNSPECIFIED:
			return nil, "", fmt.Errorf("catalog %s is %w", version, ErrPublished)
		}
		found = &cats[i]
	}
	if found == nil {
		return nil, "", fmt.Errorf("%w of catalog %s in the district's chain: draft it first", ErrNoDraft, version)
	}
	if err := entries.FourEyes(author, found.cat.GetDraftedBy(), found.author); err != nil {
		return nil, "", fmt.Errorf("catalog %s was drafted by %s; %s may not publish it too: %w", version, found.author, author, err)
	}
	pub := &sanziv1.Catalog{Version: version, District: found.cat.GetDistrict(), State: sanziv1.CatalogState_CATALOG_STATE_PUBLISHED,
		DraftedBy: found.author, PublishedBy: author, Sha256: found.sha}
	id, err := c.Append(ctx, head, author, sanziv1.EntryType_ENTRY_TYPE_CATALOG_VERSION, pub)
	if err != nil {
		return nil, "", err
	}
	cat := proto.CloneOf(found.cat)
	cat.DraftedBy, cat.PublishedBy, cat.State, cat.Sha256 = found.author, author, pub.State, found.sha
	return cat, id, nil
}

// IssueDirective records directive d by author, addressed as d says
// (entries.CheckDirective: the nodes check it again); it returns the entry
// id.
func (c *Chain) IssueDirective(ctx context.Context, author string, d *sanziv1.Directive) (string, error) {
	if err := entries.CheckDirective(d); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	d = proto.CloneOf(d)
	d.Org = c.origin
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.appendAtHead(ctx, author, sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE, d)
}

// CertRevocation is the revocation of the key of cert, a node's
// certificate, for reason; origin, when given, must be the org cert names.
func CertRevocation(cert *x509.Certificate, origin, reason string) (*sanziv1.KeyRevocation, error) {
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("key is not Ed25519")
	}
	org, _, err := pki.Identity(cert)
	if err != nil {
		return nil, err
	}
	if origin != "" && origin != org {
		return nil, fmt.Errorf("names %s, not %s", org, origin)
	}
	return &sanziv1.KeyRevocation{Origin: org, Fingerprint: keys.Fingerprint(pub), CertificateSerial: cert.SerialNumber.String(), Reason: reason}, nil
}

// checkRevocation says why rev cannot be written, or nil.
func checkRevocation(rev *sanziv1.KeyRevocation) error {
	var fe *entries.FieldError
	switch {
	case len(rev.GetOrigin()) != 12:
		fe = &entries.FieldError{Field: "origin", Reason: fmt.Sprintf("%q is not the 12-digit org code whose key is revoked", rev.GetOrigin())}
	case !keys.IsFingerprint(rev.GetFingerprint()):
		fe = &entries.FieldError{Field: "fingerprint", Reason: fmt.Sprintf("%q is not a key fingerprint (16 hex digits, as sanzi keys prints it)", rev.GetFingerprint())}
	case rev.GetReason() == "":
		fe = &entries.FieldError{Field: "reason", Reason: "required: it is shown to whoever's push is refused"}
	default:
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, fe)
}

// RevokeKey records rev by author: entries of rev's origin signed by its
// key after rev.AfterSeq are refused from then on. With atHead, AfterSeq
// is the district's head of the origin now (what the district holds was
// accepted before the key was known to be lost). It returns what it wrote
// and the entry id.
func (c *Chain) RevokeKey(ctx context.Context, author string, rev *sanziv1.KeyRevocation, atHead bool) (*sanziv1.KeyRevocation, string, error) {
	if err := checkRevocation(rev); err != nil {
		return nil, "", err
	}
	rev = proto.CloneOf(rev)
	ctx, cancel := c.bound(ctx)
	defer cancel()
	if atHead {
		h, err := c.headOf(ctx, rev.GetOrigin())
		if err != nil {
			return nil, "", err
		}
		rev.AfterSeq = h.GetSeq()
	}
	id, err := c.appendAtHead(ctx, author, sanziv1.EntryType_ENTRY_TYPE_KEY_REVOCATION, rev)
	return rev, id, err
}
