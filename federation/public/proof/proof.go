// Package proof checks a village's public pages the way anyone can
// (`sanzi verify-public`): it fetches a disclosure's figures, the chain
// segment that proves them, the district's signed checkpoints and its
// public key from any district member's public site, and shows that the
// figures are what the village's signed chain holds as of a checkpoint,
// and that no checkpoint it saw contradicts another. It trusts nothing the
// site says about itself beyond the key, which the reader compares with
// the fingerprint the district publishes elsewhere (--fingerprint).
//
// The figures are recomputed from the entries with node/disclosed,
// the code the district computes the pages with.
package proof

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ErrFailed: what was served does not prove itself; the error says what
// and where. Anything else is a failure to fetch.
var ErrFailed = errors.New("verification failed")

// Config says what to check.
type Config struct {
	// URL is a village's page (…/public/villages/{code}[/{period}]) or a
	// disclosure's JSON (…/public/v1/villages/{code}/disclosures/{period}).
	URL string
	// Fingerprint, when set, is the district key's fingerprint as the
	// district publishes it elsewhere: the site's key must match it.
	Fingerprint string
	// Period is the month to check (default: the URL's, else the newest);
	// All checks every month on the site.
	Period string
	All    bool
	// Recent is how many of the newest checkpoints are also fetched and
	// checked against each other and the segments (default 20).
	Recent int
	// Keep is a folder of checkpoints kept from earlier runs: each is
	// checked against what is served now, and what is checked now is
	// added to it, so that a district that rewrites its history is caught
	// by anyone who looked before.
	Keep   string
	Client *http.Client
	// Out receives the report, one line per check with its figures.
	Out io.Writer
}

// checker holds one run.
type checker struct {
	cfg      Config
	base     string // scheme://host
	village  string
	key      ed25519.PublicKey
	district string
	seen     map[uint64]*checkpoint.Signed // every checkpoint checked, by number
	chain    map[uint64][ledger.HashSize]byte
}

// Run checks and reports; it returns an error wrapping ErrFailed when the
// site's data does not prove itself.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute}
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Recent <= 0 {
		cfg.Recent = 20
	}
	c := &checker{cfg: cfg, seen: map[uint64]*checkpoint.Signed{}, chain: map[uint64][ledger.HashSize]byte{}}
	period, err := c.parseURL(cfg.URL)
	if err != nil {
		return err
	}
	if cfg.Period != "" {
		period = cfg.Period
	}
	if err := c.checkKey(ctx); err != nil {
		return err
	}
	var list public.DisclosureList
	if err := c.get(ctx, fmt.Sprintf("/public/v1/villages/%s/disclosures", c.village), &list); err != nil {
		return err
	}
	if len(list.Disclosures) == 0 {
		return fmt.Errorf("%w: %s has no published disclosure to check", ErrFailed, c.village)
	}
	var todo []public.Listed // oldest first
	for i := len(list.Disclosures) - 1; i >= 0; i-- {
		l := list.Disclosures[i]
		if cfg.All || l.Period == period || period == "" && i == 0 {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return fmt.Errorf("%w: %s published no disclosure for %s", ErrFailed, c.village, period)
	}
	var prev *disclosed.Disclosure // the one before, when checked
	for _, l := range todo {
		d, err := c.checkDisclosure(ctx, l, list, prev)
		if err != nil {
			return err
		}
		prev = d
	}
	if err := c.checkCheckpoints(ctx); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "verify-public: OK: %d disclosure(s) of %s proven by the district's signed checkpoints\n", len(todo), c.village)
	return nil
}

// parseURL finds the site, the village and the period in u.
func (c *checker) parseURL(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" {
		return "", fmt.Errorf("URL %q: want http(s)://host/public/villages/<village code>[/<YYYY-MM>]", u)
	}
	c.base = pu.Scheme + "://" + pu.Host
	segs := strings.Split(strings.Trim(pu.Path, "/"), "/")
	switch {
	case len(segs) >= 3 && segs[0] == "public" && segs[1] == "villages" && len(segs) <= 4:
		c.village = segs[2]
		if len(segs) == 4 {
			return segs[3], nil
		}
		return "", nil
	case len(segs) >= 4 && segs[0] == "public" && segs[1] == "v1" && segs[2] == "villages":
		c.village = segs[3]
		if len(segs) == 6 && segs[4] == "disclosures" {
			return segs[5], nil
		}
		return "", nil
	}
	return "", fmt.Errorf("URL %q: not a village's public page; want http(s)://host/public/villages/<village code>[/<YYYY-MM>]", u)
}

// get fetches a JSON route of the site into v. A site that says it is
// busy (429, 503) is asked again after the Retry-After it gives (at most
// 10 s, 5 tries): the public site limits each address, and a long segment
// takes many requests.
func (c *checker) get(ctx context.Context, path string, v any) error {
	resp, body, err := c.fetch(ctx, path)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		json.Unmarshal(body, &e)
		return fmt.Errorf("fetch %s: %s: %s", path, resp.Status, e.Message)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %s is not what the site serves: %v", ErrFailed, path, err)
	}
	return nil
}

// fetch GETs path, trying again while the site says it is busy.
func (c *checker) fetch(ctx context.Context, path string) (*http.Response, []byte, error) {
	for try := 1; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return nil, nil, err
		}
		resp, err := c.cfg.Client.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("fetch %s: %w", path, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("fetch %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable || try == 5 {
			return resp, body, nil
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(time.Duration(min(max(wait, 1), 10)) * time.Second):
		}
	}
}

// checkKey fetches the district's key and compares it with the
// fingerprint given.
func (c *checker) checkKey(ctx context.Context) error {
	var k public.Key
	if err := c.get(ctx, "/public/v1/key", &k); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize || k.Algorithm != "Ed25519" {
		return fmt.Errorf("%w: the site's key is not an Ed25519 public key", ErrFailed)
	}
	c.key, c.district = raw, k.District
	fp := checkpoint.Fingerprint(c.key)
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(s)) }
	switch {
	case c.cfg.Fingerprint != "" && norm(c.cfg.Fingerprint) != norm(fp):
		return fmt.Errorf("%w: the site's district key has fingerprint %s, not the %s you gave: this is not the district's key", ErrFailed, fp, c.cfg.Fingerprint)
	case c.cfg.Fingerprint != "":
		fmt.Fprintf(c.cfg.Out, "key: district %s, Ed25519, fingerprint %s: matches the one given\n", c.district, fp)
	default:
		fmt.Fprintf(c.cfg.Out, "key: district %s, Ed25519, fingerprint %s (not compared: give --fingerprint from the district's notice)\n", c.district, fp)
	}
	return nil
}

// checkpoint fetches checkpoint n (once) and checks its signature.
func (c *checker) checkpoint(ctx context.Context, n uint64) (*checkpoint.Signed, error) {
	if s := c.seen[n]; s != nil {
		return s, nil
	}
	var sc public.Checkpoint
	if err := c.get(ctx, fmt.Sprintf("/public/v1/checkpoints/%d", n), &sc); err != nil {
		return nil, err
	}
	return c.open(sc, n)
}

// open checks a served checkpoint's signature and records it.
func (c *checker) open(sc public.Checkpoint, want uint64) (*checkpoint.Signed, error) {
	sig, err := base64.StdEncoding.DecodeString(sc.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint %d: the signature is not base64", ErrFailed, sc.Number)
	}
	s, err := checkpoint.Open([]byte(sc.Statement), sig, c.key)
	if errors.Is(err, checkpoint.ErrSignature) {
		return nil, fmt.Errorf("%w: checkpoint %d: its signature does not verify with the district's key (fingerprint %s): it was not signed by the district", ErrFailed, sc.Number, checkpoint.Fingerprint(c.key))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint %d: %w", ErrFailed, sc.Number, err)
	}
	if want != 0 && s.Statement.Number != want || sc.Number != s.Statement.Number || s.Statement.District != c.district {
		return nil, fmt.Errorf("%w: checkpoint %d: the signed statement says number %d of district %s", ErrFailed, sc.Number, s.Statement.Number, s.Statement.District)
	}
	if prev := c.seen[s.Statement.Number]; prev != nil && !bytes.Equal(prev.Text, s.Text) {
		return nil, fmt.Errorf("%w: the site served two different checkpoints numbered %d, both signed", ErrFailed, s.Statement.Number)
	}
	c.seen[s.Statement.Number] = s
	return s, nil
}

// segment fetches the entries from..to of the village's chain, following
// the pages, and checks each entry's hash against its body and its link
// to the one before.
func (c *checker) segment(ctx context.Context, first string, from, to uint64) ([]*ledger.Stored, error) {
	var out []*ledger.Stored
	next := first
	for next != "" {
		var seg public.Segment
		if err := c.get(ctx, next, &seg); err != nil {
			return nil, err
		}
		for _, b64 := range seg.Entries {
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("%w: an entry of the segment is not base64", ErrFailed)
			}
			st, err := checkEntry(raw)
			want := from + uint64(len(out))
			if err != nil {
				return nil, fmt.Errorf("%w: entry %s: %w", ErrFailed, ledger.EntryID(c.village, want), err)
			}
			if st.Origin != c.village || st.Seq != want {
				return nil, fmt.Errorf("%w: the segment holds %s where %s was due", ErrFailed, st.ID(), ledger.EntryID(c.village, want))
			}
			if n := len(out); n > 0 && st.PrevHash != out[n-1].Hash {
				return nil, fmt.Errorf("%w: entry %s does not link to %s: its prev_hash is %x, that entry's hash %x", ErrFailed, st.ID(), out[n-1].ID(), st.PrevHash[:8], out[n-1].Hash[:8])
			}
			out = append(out, st)
			c.chain[st.Seq] = st.Hash
		}
		if seg.Next != "" && !strings.HasPrefix(seg.Next, "/public/v1/chains/"+c.village+"/entries?") {
			return nil, fmt.Errorf("%w: the segment's next page %q is not this village's chain", ErrFailed, seg.Next)
		}
		next = seg.Next
		if next != "" && len(seg.Entries) == 0 {
			return nil, fmt.Errorf("%w: the segment's page is empty but names a next page", ErrFailed)
		}
	}
	if uint64(len(out)) != to-from+1 {
		return nil, fmt.Errorf("%w: the segment %d..%d has %d entries", ErrFailed, from, to, len(out))
	}
	return out, nil
}

// checkEntry decodes an encoded Entry and checks that its body hashes to
// its hash: hash the bytes as they are, never re-encoded.
func checkEntry(raw []byte) (*ledger.Stored, error) {
	var e sanziv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("not an entry: %w", err)
	}
	sum := sha256.Sum256(e.GetBody())
	if !bytes.Equal(sum[:], e.GetHash()) {
		return nil, fmt.Errorf("its body does not hash to its hash %s (the entry was altered): it hashes to %x", hex.EncodeToString(e.GetHash()), sum)
	}
	return ledger.Decode(raw)
}

// walker serves Compute the checked segment.
type walker []*ledger.Stored

func (w walker) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	for _, s := range w {
		if s.Origin == origin && s.Seq >= from && !fn(s) {
			return nil
		}
	}
	return nil
}

// checkDisclosure proves one month.
func (c *checker) checkDisclosure(ctx context.Context, l public.Listed, list public.DisclosureList, prev *disclosed.Disclosure) (*disclosed.Disclosure, error) {
	path := fmt.Sprintf("/public/v1/villages/%s/disclosures/%s", c.village, l.Period)
	resp, body, err := c.fetch(ctx, path)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusConflict {
		return nil, c.checkRefused(ctx, l, body, prev)
	}
	var pub public.Published
	if err := c.get(ctx, path, &pub); err != nil {
		return nil, err
	}
	d, p := pub.Disclosure, pub.Proof
	if d == nil || d.Village != c.village || d.Period != l.Period {
		return nil, fmt.Errorf("%w: %s: the site answered with another disclosure", ErrFailed, l.Period)
	}
	out := c.cfg.Out
	name := ""
	if pub.Name != "" {
		name = " (" + pub.Name + ")"
	}
	fmt.Fprintf(out, "%s%s %s: procedure %s, published %s\n", c.village, name, d.Period, d.Procedure.ID, d.PublishedAt.Format(time.RFC3339))
	seg, err := c.proven(ctx, d.Period, p)
	if err != nil {
		return nil, err
	}
	all, err := disclosed.Compute(walker(seg), c.village, p.FromSeq, disclosed.Options{ItemizeFromFen: d.ItemizeFromFen})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	i := slices.IndexFunc(all, func(x *disclosed.Disclosure) bool { return x.Procedure.ID == d.Procedure.ID })
	if i < 0 {
		return nil, fmt.Errorf("%w: the chain segment holds no approved disclosure procedure %s: the page shows a disclosure the village did not approve", ErrFailed, d.Procedure.ID)
	}
	got := all[i]
	if len(got.Unsure) > 0 {
		return nil, fmt.Errorf("%w: the segment does not hold everything %s rests on: %s", ErrFailed, d.Period, strings.Join(got.Unsure, "; "))
	}
	// The opening balance is the previous disclosure's closing one, which
	// this segment does not hold: it is taken from the page and checked
	// against the previous month below.
	got.Opening = d.Opening
	got.Closing = disclosed.Balances{CashFen: d.Opening.CashFen + got.Movement.CashFen, BankFen: d.Opening.BankFen + got.Movement.BankFen}
	// What the committee approved: the signed decisions in the segment
	// name the digest of the content; the content recomputed here must
	// have it (the opening balance, from the page, is checked below).
	if err := got.Seal(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	if err := got.Check(); err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrFailed, c.village, d.Period, err)
	}
	if diffs := differences(d, got); len(diffs) > 0 {
		return nil, fmt.Errorf("%w: %s %s: the page's figures are not what the village's signed entries hold:\n  %s", ErrFailed, c.village, d.Period, strings.Join(diffs, "\n  "))
	}
	items := len(got.Transactions) + len(got.Acquired) + len(got.Disposed) + len(got.Reversals)
	for _, k := range got.Contracts {
		items += 1 + len(k.Payments)
	}
	fmt.Fprintf(out, "  recomputed from %d financial entries (seqs %d..%d) and approved in %d steps (last %s): income %s yuan in %d categories, expense %s yuan in %d categories, %d itemized transactions, %d contracts, %d assets acquired, %d disposed, %d reversals; %d listed entries, each with its hash: all equal to the page\n",
		got.Entries, got.AfterSeq+1, got.ToSeq, len(got.Approvals), got.Approvals[len(got.Approvals)-1].Ref.ID, yuan(got.IncomeFen), len(got.Income),
		yuan(got.ExpenseFen), len(got.Expense), len(got.Transactions), len(got.Contracts), len(got.Acquired), len(got.Disposed), len(got.Reversals), items)
	if got.Legacy() {
		fmt.Fprintf(out, "  approved before decisions named the content they approve: the figures are the chain's, not checked against an approved digest\n")
	} else {
		fmt.Fprintf(out, "  content sha256 %s: the one the committee's signed decisions approved\n", got.ContentSha256)
	}
	fmt.Fprintf(out, "  balances: cash %s + %s = %s yuan, bank %s + %s = %s yuan\n", yuan(d.Opening.CashFen), yuan(got.Movement.CashFen), yuan(got.Closing.CashFen),
		yuan(d.Opening.BankFen), yuan(got.Movement.BankFen), yuan(got.Closing.BankFen))
	if err := c.checkOpening(ctx, d, list, prev); err != nil {
		return nil, err
	}
	return got, nil
}

// proven fetches the checkpoint and the chain segment p names for period
// and checks them: the checkpoint signed by the district, the segment's
// entries hashing and linking, ending at the checkpoint's head.
func (c *checker) proven(ctx context.Context, period string, p public.Proof) ([]*ledger.Stored, error) {
	switch {
	case p.Checkpoint == 0:
		return nil, fmt.Errorf("%w: %s %s: no signed checkpoint covers it yet (%s); try again in a minute", ErrFailed, c.village, period, p.Note)
	case p.Segment == "":
		return nil, fmt.Errorf("%w: %s %s: the district does not serve the chain segment that proves this month (%s), so its figures cannot be checked", ErrFailed, c.village, period, p.Note)
	case p.FromSeq == 0 || p.ToSeq < p.FromSeq:
		return nil, fmt.Errorf("%w: %s %s: the proof names seqs %d..%d", ErrFailed, c.village, period, p.FromSeq, p.ToSeq)
	}
	cp, err := c.checkpoint(ctx, p.Checkpoint)
	if err != nil {
		return nil, err
	}
	head, ok := cp.Statement.Head(c.village)
	if !ok || head.Seq != p.ToSeq {
		return nil, fmt.Errorf("%w: checkpoint %d signs %s at seq %d, but the proof ends at seq %d", ErrFailed, cp.Statement.Number, c.village, head.Seq, p.ToSeq)
	}
	fmt.Fprintf(c.cfg.Out, "  checkpoint %d of %s: signature verifies, signs %d chains, %s at seq %d hash %x\n", cp.Statement.Number,
		cp.Statement.Time.Format(time.RFC3339), len(cp.Statement.Heads), c.village, head.Seq, head.Hash[:8])
	wantSeg := fmt.Sprintf("/public/v1/chains/%s/entries?from=%d&to=%d", c.village, p.FromSeq, p.ToSeq)
	if p.Segment != wantSeg {
		return nil, fmt.Errorf("%w: the proof's segment %q is not seqs %d..%d of %s", ErrFailed, p.Segment, p.FromSeq, p.ToSeq, c.village)
	}
	seg, err := c.segment(ctx, p.Segment, p.FromSeq, p.ToSeq)
	if err != nil {
		return nil, err
	}
	if last := seg[len(seg)-1]; last.Hash != head.Hash {
		return nil, fmt.Errorf("%w: the chain segment ends at %s with hash %x, but checkpoint %d signs hash %x there", ErrFailed, last.ID(), last.Hash[:8], cp.Statement.Number, head.Hash[:8])
	}
	fmt.Fprintf(c.cfg.Out, "  chain segment seqs %d..%d: %d entries, each hashing to its hash and linking to the one before, ending at the checkpoint's head\n", p.FromSeq, p.ToSeq, len(seg))
	return seg, nil
}

// checkRefused reads a site's refusal to show month l (409: what the
// chain gives is not what the committee approved) and checks its proof:
// a segment that does not verify is named (a member's state edited), one
// that does is recomputed, and the approval it holds is named.
func (c *checker) checkRefused(ctx context.Context, l public.Listed, body []byte, prev *disclosed.Disclosure) error {
	var ref public.Refusal
	if err := json.Unmarshal(body, &ref); err != nil || ref.Proof == nil {
		return fmt.Errorf("%w: %s %s: the site refuses it: %s", ErrFailed, c.village, l.Period, cmp.Or(ref.Message, string(body)))
	}
	fmt.Fprintf(c.cfg.Out, "%s %s: procedure %s: the site refuses it (%s); checking its proof\n", c.village, l.Period, l.Procedure.ID, ref.Message)
	seg, err := c.proven(ctx, l.Period, *ref.Proof)
	if err != nil {
		return err
	}
	all, err := disclosed.Compute(walker(seg), c.village, ref.Proof.FromSeq, disclosed.Options{})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrFailed, err)
	}
	// Recomputed with its opening balance when that is known (the first
	// disclosure's is zero, else the previous one checked), to name the
	// decision that approved other content.
	if i := slices.IndexFunc(all, func(x *disclosed.Disclosure) bool { return x.Procedure.ID == l.Procedure.ID }); i >= 0 &&
		(all[i].AfterSeq == 0 || prev != nil && prev.Procedure.Seq == all[i].AfterSeq) {
		got := all[i]
		if prev != nil && got.AfterSeq != 0 {
			got.Opening = prev.Closing
		}
		got.Closing = disclosed.Balances{CashFen: got.Opening.CashFen + got.Movement.CashFen, BankFen: got.Opening.BankFen + got.Movement.BankFen}
		if err := got.Seal(); err == nil {
			if err := got.Check(); err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrFailed, c.village, l.Period, err)
			}
		}
	}
	return fmt.Errorf("%w: %s %s: the site refuses it and its signed chain segment verifies: %s", ErrFailed, c.village, l.Period, ref.Message)
}

// checkOpening checks d's opening balance against the previous
// disclosure's closing balance (zero for the first).
func (c *checker) checkOpening(ctx context.Context, d *disclosed.Disclosure, list public.DisclosureList, prev *disclosed.Disclosure) error {
	if d.AfterSeq == 0 {
		if d.Opening != (disclosed.Balances{}) {
			return fmt.Errorf("%w: %s is the village's first disclosure but opens with cash %s and bank %s yuan instead of zero", ErrFailed, d.Period, yuan(d.Opening.CashFen), yuan(d.Opening.BankFen))
		}
		fmt.Fprintf(c.cfg.Out, "  opening balance zero: the village's first disclosure\n")
		return nil
	}
	how := "as the site publishes it (that month checked too with --all)"
	if prev == nil || prev.Procedure.Seq != d.AfterSeq {
		prev = nil
		for _, l := range list.Disclosures {
			if l.Procedure.Seq != d.AfterSeq {
				continue
			}
			var pp public.Published
			if err := c.get(ctx, fmt.Sprintf("/public/v1/villages/%s/disclosures/%s", c.village, l.Period), &pp); err != nil {
				return err
			}
			prev = pp.Disclosure
		}
		if prev == nil {
			fmt.Fprintf(c.cfg.Out, "  opening balance carried from the disclosure of procedure seq %d, no longer on the site: not compared\n", d.AfterSeq)
			return nil
		}
	} else {
		how = "checked above"
	}
	if prev.Closing != d.Opening {
		return fmt.Errorf("%w: %s opens with cash %s and bank %s yuan, but %s closed with cash %s and bank %s yuan", ErrFailed, d.Period,
			yuan(d.Opening.CashFen), yuan(d.Opening.BankFen), prev.Period, yuan(prev.Closing.CashFen), yuan(prev.Closing.BankFen))
	}
	fmt.Fprintf(c.cfg.Out, "  opening balance equals %s's closing balance, %s\n", prev.Period, how)
	return nil
}

// checkCheckpoints fetches the newest checkpoints and any kept from
// before, checks every signature, that consecutive ones link, that no two
// contradict, and that none contradicts the chain segments checked.
func (c *checker) checkCheckpoints(ctx context.Context) error {
	var latest public.Checkpoint
	if err := c.get(ctx, "/public/v1/checkpoints/latest", &latest); err != nil {
		return err
	}
	if _, err := c.open(latest, 0); err != nil {
		return err
	}
	after := uint64(0)
	if latest.Number > uint64(c.cfg.Recent) {
		after = latest.Number - uint64(c.cfg.Recent)
	}
	for after < latest.Number {
		var page public.CheckpointList
		if err := c.get(ctx, fmt.Sprintf("/public/v1/checkpoints?after=%d&limit=%d", after, public.MaxCheckpoints), &page); err != nil {
			return err
		}
		if len(page.Checkpoints) == 0 {
			break
		}
		for _, sc := range page.Checkpoints {
			if _, err := c.open(sc, 0); err != nil {
				return err
			}
			after = max(after, sc.Number)
		}
	}
	kept, err := c.readKept()
	if err != nil {
		return err
	}
	var sts []*checkpoint.Statement
	for _, n := range slices.Sorted(maps.Keys(c.seen)) {
		sts = append(sts, c.seen[n].Statement)
	}
	all := append(slices.Clone(sts), kept...)
	if cs := checkpoint.Contradictions(all); len(cs) > 0 {
		var msgs []string
		for _, x := range cs {
			msgs = append(msgs, x.Error())
		}
		return fmt.Errorf("%w: the district signed checkpoints that contradict each other (%w):\n  %s", ErrFailed, checkpoint.ErrContradiction, strings.Join(msgs, "\n  "))
	}
	for i := 1; i < len(sts); i++ {
		if sts[i].Number == sts[i-1].Number+1 {
			if err := checkpoint.Follows(sts[i-1], sts[i], nil); err != nil {
				return fmt.Errorf("%w: checkpoints %d and %d: %w", ErrFailed, sts[i-1].Number, sts[i].Number, err)
			}
		}
	}
	for _, s := range all {
		h, ok := s.Head(c.village)
		if !ok {
			continue
		}
		if got, held := c.chain[h.Seq]; held && got != h.Hash {
			return fmt.Errorf("%w: checkpoint %d signs %s with hash %x, but the chain segment checked has %x there (%w)", ErrFailed, s.Number,
				ledger.EntryID(c.village, h.Seq), h.Hash[:8], got[:8], checkpoint.ErrContradiction)
		}
	}
	nums := slices.Sorted(maps.Keys(c.seen))
	fmt.Fprintf(c.cfg.Out, "checkpoints: %d fetched (numbers %d..%d, newest %s) and %d kept from before: every signature verifies, consecutive ones link, no two contradict, none contradicts the segments\n",
		len(nums), nums[0], nums[len(nums)-1], c.seen[nums[len(nums)-1]].Statement.Time.Format(time.RFC3339), len(kept))
	return c.writeKept()
}

// readKept reads the checkpoints kept from earlier runs (each checked
// with the district's key again).
func (c *checker) readKept() ([]*checkpoint.Statement, error) {
	if c.cfg.Keep == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(c.cfg.Keep, "checkpoint-*.json"))
	if err != nil {
		return nil, err
	}
	var out []*checkpoint.Statement
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read kept checkpoint: %w", err)
		}
		var sc public.Checkpoint
		if err := json.Unmarshal(b, &sc); err != nil {
			return nil, fmt.Errorf("read kept checkpoint %s: %w", f, err)
		}
		sig, _ := base64.StdEncoding.DecodeString(sc.Signature)
		s, err := checkpoint.Open([]byte(sc.Statement), sig, c.key)
		if err != nil {
			return nil, fmt.Errorf("%w: kept checkpoint %s does not verify with the site's key: %w", ErrFailed, f, err)
		}
		out = append(out, s.Statement)
	}
	return out, nil
}

// writeKept adds the checkpoints checked now to the kept ones.
func (c *checker) writeKept() error {
	if c.cfg.Keep == "" {
		return nil
	}
	if err := os.MkdirAll(c.cfg.Keep, 0o755); err != nil {
		return fmt.Errorf("keep checkpoints: %w", err)
	}
	for n, s := range c.seen {
		sc := public.Checkpoint{Number: n, Statement: string(s.Text), Signature: base64.StdEncoding.EncodeToString(s.Signature)}
		b, _ := json.MarshalIndent(sc, "", " ")
		if err := os.WriteFile(filepath.Join(c.cfg.Keep, fmt.Sprintf("checkpoint-%d.json", n)), b, 0o644); err != nil {
			return fmt.Errorf("keep checkpoint %d: %w", n, err)
		}
	}
	return nil
}

func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
