package public

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
)

// Page sizes of the JSON routes.
const (
	// MaxEntries is the most signed entries one segment request returns;
	// a longer segment is fetched page by page (next).
	MaxEntries = 500
	// MaxCheckpoints is the most checkpoints one list request returns:
	// each names every chain, some 90 bytes a chain.
	MaxCheckpoints = 20
)

// Key is the district's public key as /public/v1/key serves it.
type Key struct {
	District    string `json:"district"`
	Algorithm   string `json:"algorithm"`
	PublicKey   string `json:"publicKey"` // base64 of the raw 32 bytes
	Fingerprint string `json:"fingerprint"`
	Certificate string `json:"certificate,omitempty"` // PEM
}

func (s *Site) key() Key {
	k := Key{District: s.cfg.District, Algorithm: "Ed25519", PublicKey: base64.StdEncoding.EncodeToString(s.cfg.PublicKey), Fingerprint: s.fp}
	if len(s.cfg.Certificate) > 0 {
		k.Certificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cfg.Certificate}))
	}
	return k
}

func (s *Site) keyJSON(w http.ResponseWriter, r *http.Request, _ []string) {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, s.key())
}

// Checkpoint is a signed checkpoint as served.
type Checkpoint struct {
	Number    uint64 `json:"number"`
	Statement string `json:"statement"` // the text signed, exactly
	Signature string `json:"signature"` // base64 Ed25519 over statement
	SHA256    string `json:"sha256"`    // hex SHA-256 of statement
}

func served(c *checkpoint.Signed) Checkpoint {
	sum := sha256.Sum256(c.Text)
	return Checkpoint{Number: c.Statement.Number, Statement: string(c.Text), Signature: base64.StdEncoding.EncodeToString(c.Signature), SHA256: hex.EncodeToString(sum[:])}
}

func (s *Site) checkpointJSON(w http.ResponseWriter, r *http.Request, args []string) {
	var c *checkpoint.Signed
	var err error
	if args[0] == "latest" {
		w.Header().Set("Cache-Control", "no-cache")
		c, err = s.cfg.State.LatestCheckpoint()
	} else {
		n, perr := strconv.ParseUint(args[0], 10, 64)
		if perr != nil || n == 0 {
			s.fail(w, r, http.StatusBadRequest, "检查点编号应为正整数", fmt.Sprintf("checkpoint: %q is neither latest nor a number from 1", args[0]))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
		c, err = s.cfg.State.Checkpoint(n)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if c == nil {
		s.fail(w, r, http.StatusNotFound, "没有这个检查点", "no such checkpoint (yet)")
		return
	}
	writeJSON(w, http.StatusOK, served(c))
}

// CheckpointList is a page of checkpoints in number order.
type CheckpointList struct {
	Checkpoints []Checkpoint `json:"checkpoints"`
	Latest      uint64       `json:"latest"`
}

func (s *Site) checkpointsJSON(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	after, err := optUint(q.Get("after"), 0)
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "after 应为整数", "after: "+err.Error())
		return
	}
	limit, err := optUint(q.Get("limit"), MaxCheckpoints)
	if err != nil || limit == 0 || limit > MaxCheckpoints {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("limit 应在 1 到 %d 之间", MaxCheckpoints), fmt.Sprintf("limit: from 1 to %d", MaxCheckpoints))
		return
	}
	latest, err := s.cfg.State.LatestCheckpoint()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := CheckpointList{Checkpoints: []Checkpoint{}}
	if latest != nil {
		out.Latest = latest.Statement.Number
	}
	for n := after + 1; n <= out.Latest && uint64(len(out.Checkpoints)) < limit; n++ {
		c, err := s.cfg.State.Checkpoint(n)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if c != nil {
			out.Checkpoints = append(out.Checkpoints, served(c))
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, out)
}

func optUint(v string, def uint64) (uint64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	return n, nil
}

// village checks a village code argument.
func (s *Site) village(w http.ResponseWriter, r *http.Request, code string) bool {
	if !s.serves(code) {
		s.fail(w, r, http.StatusNotFound, "本站没有这个村", fmt.Sprintf("%q is not a village code this site serves (of %s)", code, s.scope()))
		return false
	}
	return true
}

// scope is the code prefix of the villages the site serves.
func (s *Site) scope() string { return cmp.Or(s.cfg.Villages, s.cfg.District[:6]) }

// serves says whether code is a village the site serves.
func (s *Site) serves(code string) bool {
	lvl, err := idcode.OrgCode(code)
	return err == nil && lvl == idcode.LevelVillage && code[:6] == s.cfg.District[:6] && strings.HasPrefix(code, s.scope())
}

// Listed is one disclosure in a village's list.
type Listed struct {
	Period      string        `json:"period"`
	Procedure   disclosed.Ref `json:"procedure"`
	PublishedAt string        `json:"publishedAt"`
	URL         string        `json:"url"`
}

// DisclosureList is a village's published disclosures, newest first.
type DisclosureList struct {
	Village     string   `json:"village"`
	Name        string   `json:"name"`
	Disclosures []Listed `json:"disclosures"`
	// RetentionMonths is how long the catalog keeps them on the site.
	RetentionMonths int `json:"retentionMonths"`
}

// published is village code's published disclosures and the catalog's
// rule, or answers why not (false).
func (s *Site) published(w http.ResponseWriter, r *http.Request, code string) ([]*disclosed.Disclosure, matterRule, bool) {
	if !s.village(w, r, code) {
		return nil, matterRule{}, false
	}
	all, rule, err := s.books.published(code)
	if err != nil {
		s.internal(w, r, err)
		return nil, rule, false
	}
	return all, rule, true
}

func (s *Site) disclosuresJSON(w http.ResponseWriter, r *http.Request, args []string) {
	all, rule, ok := s.published(w, r, args[0])
	if !ok {
		return
	}
	out := DisclosureList{Village: args[0], Name: s.cfg.Names[args[0]], Disclosures: []Listed{}, RetentionMonths: rule.retentionMonths}
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		out.Disclosures = append(out.Disclosures, Listed{Period: d.Period, Procedure: d.Procedure, PublishedAt: d.PublishedAt.Format("2006-01-02T15:04:05Z"),
			URL: fmt.Sprintf("%sv1/villages/%s/disclosures/%s", Prefix, args[0], d.Period)})
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, out)
}

// Proof says where a disclosure's figures are proven: the signed entries
// from FromSeq to ToSeq of the village's chain, whose last is the
// village's head in checkpoint Checkpoint.
type Proof struct {
	Checkpoint    uint64 `json:"checkpoint"`
	CheckpointURL string `json:"checkpointUrl,omitempty"`
	FromSeq       uint64 `json:"fromSeq"`
	ToSeq         uint64 `json:"toSeq"`
	Segment       string `json:"segment,omitempty"`
	// Note says why there is no proof yet, or none served.
	Note string `json:"note,omitempty"`
}

// Published is one disclosure as /public/v1/villages/{code}/disclosures/{period}
// serves it.
type Published struct {
	Name       string                `json:"name"`
	Disclosure *disclosed.Disclosure `json:"disclosure"`
	Proof      Proof                 `json:"proof"`
}

// proof finds the checkpoint covering d's publication and the segment.
func (s *Site) proof(d *disclosed.Disclosure) (Proof, error) {
	n, head, err := s.cfg.State.CheckpointCovering(d.Village, d.LastSeq)
	if err != nil {
		return Proof{}, err
	}
	p := Proof{Checkpoint: n, FromSeq: d.FirstSeq, ToSeq: head.Seq}
	if n == 0 {
		p.Note = "the district has not signed a checkpoint since this disclosure was published; it does within a minute"
		return p, nil
	}
	p.CheckpointURL = fmt.Sprintf("%sv1/checkpoints/%d", Prefix, n)
	if !s.cfg.Proofs {
		p.Note = "this district does not publish the signed entries that prove its pages"
		return p, nil
	}
	if seq := s.books.unmaskedIn(d.Village, p.FromSeq, p.ToSeq); seq != 0 {
		p.Note = fmt.Sprintf("entry %s was recorded before personal data was sealed apart from entries' hashes and holds it unmasked: "+
			"the district does not publish it, so this month's figures cannot be proven from the chain", ledger.EntryID(d.Village, seq))
		return p, nil
	}
	p.Segment = segmentURL(d.Village, p.FromSeq, p.ToSeq)
	return p, nil
}

func segmentURL(origin string, from, to uint64) string {
	return fmt.Sprintf("%sv1/chains/%s/entries?from=%d&to=%d", Prefix, origin, from, to)
}

// month finds the disclosure of village args[0] for period args[1] and
// all the village's published ones, or answers why not (false).
func (s *Site) month(w http.ResponseWriter, r *http.Request, args []string) (*disclosed.Disclosure, []*disclosed.Disclosure, bool) {
	if !s.village(w, r, args[0]) {
		return nil, nil, false
	}
	d, all, err := s.books.month(args[0], args[1])
	if errors.Is(err, errNotFound) {
		s.fail(w, r, http.StatusNotFound, "这个月没有公开", fmt.Sprintf("no published disclosure of %s for %q", args[0], args[1]))
		return nil, nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, nil, false
	}
	if err := d.Check(); err != nil {
		s.refuseMonth(w, r, d, err)
		return nil, nil, false
	}
	return d, all, true
}

// Refusal is the answer for a month the site does not show because the
// content its chain gives is not what the committee approved (409): why,
// and the proof a verifier checks to find out whether the chain or this
// member's copy of it is at fault.
type Refusal struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	MessageZh string `json:"messageZh"`
	Proof     *Proof `json:"proof,omitempty"`
}

// refuseMonth answers that d is not shown, for why (d.Check's error).
func (s *Site) refuseMonth(w http.ResponseWriter, r *http.Request, d *disclosed.Disclosure, why error) {
	zh := "这个月由账链算出的公开内容与村监委会批准的内容不一致，不予公开：" + why.Error()
	if !strings.HasPrefix(r.URL.Path, Prefix+"v1/") {
		s.fail(w, r, http.StatusConflict, zh, why.Error())
		return
	}
	out := Refusal{Code: http.StatusConflict, Message: why.Error(), MessageZh: zh}
	if p, err := s.proof(d); err == nil {
		out.Proof = &p
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusConflict, out)
}

func (s *Site) disclosureJSON(w http.ResponseWriter, r *http.Request, args []string) {
	d, _, ok := s.month(w, r, args)
	if !ok {
		return
	}
	p, err := s.proof(d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, Published{Name: s.cfg.Names[args[0]], Disclosure: d, Proof: p})
}

// Segment is a page of a chain's signed entries, each the encoded Entry
// (body, hash, signature) as stored but without its private part
// (ledger.Redact), in base64.
type Segment struct {
	Origin  string   `json:"origin"`
	From    uint64   `json:"from"`
	To      uint64   `json:"to"`
	Entries []string `json:"entries"`
	// Next is the URL of the rest when the segment was longer than one
	// page.
	Next string `json:"next,omitempty"`
}

// entriesJSON serves a piece of a village's chain that proves its
// published disclosures: from no earlier than the first entry a retained
// disclosure shows, to no later than the village's head in the newest
// checkpoint. The rest of the chain is not public.
func (s *Site) entriesJSON(w http.ResponseWriter, r *http.Request, args []string) {
	origin := args[0]
	if !s.cfg.Proofs {
		s.fail(w, r, http.StatusNotFound, "本区不公开链段", "this district does not publish the signed entries of its chains")
		return
	}
	if !s.village(w, r, origin) {
		return
	}
	q := r.URL.Query()
	from, err1 := optUint(q.Get("from"), 0)
	to, err2 := optUint(q.Get("to"), 0)
	if err := errors.Join(err1, err2); err != nil || from == 0 || to < from {
		s.fail(w, r, http.StatusBadRequest, "from 和 to 应为 from ≤ to 的正整数", "from and to: whole numbers from 1 with from <= to")
		return
	}
	all, _, err := s.books.published(origin)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	latest, err := s.cfg.State.LatestCheckpoint()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	first := uint64(0)
	for _, d := range all {
		if first == 0 || d.FirstSeq < first {
			first = d.FirstSeq
		}
	}
	var head checkpoint.Head
	if latest != nil {
		head, _ = latest.Statement.Head(origin)
	}
	if first == 0 || head.Seq == 0 || from < first || to > head.Seq {
		s.fail(w, r, http.StatusNotFound, "这段链不在公开范围内", fmt.Sprintf("only seqs %d to %d of %s prove its published disclosures", first, head.Seq, origin))
		return
	}
	out := Segment{Origin: origin, From: from, To: to, Entries: []string{}}
	last := from - 1
	// Each entry goes out without its private part (personal data stays
	// masked, the hash still verifies); an entry that holds personal data
	// in its hashed body (sealed before the split) is not served at all.
	var unmasked uint64
	var rerr error
	err = s.cfg.State.Range(origin, from, MaxEntries, func(st *ledger.Stored) bool {
		if st.Seq > to {
			return false
		}
		if ledger.Unmasked(st, entries.Masker{}) {
			unmasked = st.Seq
			return false
		}
		raw, err := ledger.Redact(st.Raw)
		if err != nil {
			rerr = fmt.Errorf("redact %s: %w", st.ID(), err)
			return false
		}
		out.Entries = append(out.Entries, base64.StdEncoding.EncodeToString(raw))
		last = st.Seq
		return true
	})
	if err = cmpErr(err, rerr); err != nil {
		s.internal(w, r, err)
		return
	}
	if unmasked != 0 {
		s.fail(w, r, http.StatusUnavailableForLegalReasons, "这段链含有未遮蔽的个人信息，不予公开",
			fmt.Sprintf("entry %s was recorded before personal data was sealed apart from entries' hashes and holds it unmasked: it is not published", ledger.EntryID(origin, unmasked)))
		return
	}
	if last < to {
		out.To = last
		out.Next = segmentURL(origin, last+1, to)
	}
	w.Header().Set("Cache-Control", "public, max-age=86400, immutable")
	writeJSON(w, http.StatusOK, out)
}

func (s *Site) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("public site", "path", r.URL.Path, "err", err)
	s.fail(w, r, http.StatusInternalServerError, "暂时无法读取，请稍后再试", "the member could not read its state; try again or another member")
}
