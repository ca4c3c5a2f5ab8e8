package books

import (
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The registers: contracts with what they made due and what was paid, and
// assets with their appraisals and disposal, listed with the filters an
// accountant searches by and read whole for their detail pages.

// MaxQuery is the longest search text a list takes, in characters: a
// contract number or a name, not a paragraph.
const MaxQuery = 64

// ContractFilter narrows ListContracts; zero fields match all.
type ContractFilter struct {
	// Org is one org; InScope, when set, the orgs the caller may see
	// (both must pass).
	Org     string
	InScope func(org string) bool
	// Query is text found, case-folded, in the number, the counterparty's
	// name, the object's id or location, or the summary.
	Query       string
	Kind        sanziv1.ContractKind
	Status      sanziv1.ContractStatus
	ArrearsOnly bool
}

// AssetFilter narrows ListAssets; zero fields match all.
type AssetFilter struct {
	Org     string
	InScope func(org string) bool
	// Query is text found, case-folded, in the code, name, category or
	// location.
	Query    string
	Status   sanziv1.AssetStatus
	Category string
}

// checkQuery refuses a search text that is too long or not text.
func checkQuery(q string) error {
	if !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxQuery {
		return &InvalidError{Violations: []Violation{{Field: "query", Reason: "search text of at most 64 characters"}}}
	}
	return nil
}

// contains says whether any of fields holds q (already folded).
func contains(q string, fields ...string) bool {
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), q) {
			return true
		}
	}
	return false
}

// today is the books' date (the validator's clock, in UTC as it judges
// dates), as YYYY-MM-DD: a contract's status and arrears are as of it.
func (b *Books) today() string {
	now := time.Now
	if b.val != nil && b.val.Now != nil {
		now = b.val.Now
	}
	return now().UTC().Format(time.DateOnly)
}

// contractRecord is the stored contract with its payments summed and its
// standing on day (YYYY-MM-DD).
func contractRecord(tx *bolt.Tx, s *ledger.Stored, day string) (*sanziv1.ContractRecord, error) {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return nil, err
	}
	c := m.(*sanziv1.Contract)
	rec := &sanziv1.ContractRecord{Entry: s.Meta(), Contract: c, ReversedBy: reversedBy(tx, s)}
	children(tx, s, func(id string, _ sanziv1.EntryType, amount int64, reversed bool) {
		rec.PaymentIds = append(rec.PaymentIds, id)
		if !reversed {
			rec.PaidFen += amount
		}
	})
	for _, p := range c.GetSchedule() {
		if p.GetDueDate() <= day {
			rec.DueFen += p.GetAmountFen()
		}
	}
	switch {
	case rec.ReversedBy != "":
		rec.Status = sanziv1.ContractStatus_CONTRACT_STATUS_REVERSED
	case day < c.GetTermStart():
		rec.Status = sanziv1.ContractStatus_CONTRACT_STATUS_PENDING
	case day > c.GetTermEnd():
		rec.Status = sanziv1.ContractStatus_CONTRACT_STATUS_ENDED
	default:
		rec.Status = sanziv1.ContractStatus_CONTRACT_STATUS_ACTIVE
	}
	if rec.ReversedBy == "" && rec.DueFen > rec.PaidFen {
		rec.ArrearsFen = rec.DueFen - rec.PaidFen
	}
	return rec, nil
}

// matches is f's test of a contract beyond its origin.
func (f ContractFilter) matches(rec *sanziv1.ContractRecord) bool {
	c := rec.GetContract()
	if f.Kind != 0 && c.GetKind() != f.Kind {
		return false
	}
	if f.Status != 0 && rec.GetStatus() != f.Status {
		return false
	}
	if f.ArrearsOnly && rec.GetArrearsFen() <= 0 {
		return false
	}
	return f.Query == "" || contains(strings.ToLower(f.Query), c.GetContractNumber(), c.GetCounterparty().GetName(),
		c.GetObject().GetObjectId(), c.GetObject().GetLocation(), c.GetSummary())
}

func (f ContractFilter) onlyOrigin() bool {
	return f.Query == "" && f.Kind == 0 && f.Status == 0 && !f.ArrearsOnly
}

// ListContracts returns one page of contracts, in (org, seq) order. With
// no filter but the org, only the page's contracts are read; any other
// filter reads each contract of the orgs in scope.
func (b *Books) ListContracts(f ContractFilter, p Page) ([]*sanziv1.ContractRecord, string, int64, error) {
	if err := checkQuery(f.Query); err != nil {
		return nil, "", 0, err
	}
	day := b.today()
	return listRecords(b, sanziv1.EntryType_ENTRY_TYPE_CONTRACT, p, f.Org, f.InScope, !f.onlyOrigin(),
		func(tx *bolt.Tx, s *ledger.Stored) (*sanziv1.ContractRecord, error) {
			return contractRecord(tx, s, day)
		}, f.matches)
}

// listRecords is a register's page: entries of type t of org (every org
// when empty) that inScope admits (every one when nil), built into
// records by record and, when filtered, kept when matches says so. A
// record matched is built once: walk builds a page's entry right after
// matching it. Without a filter or a scope the total is the counters'.
func listRecords[R any](b *Books, t sanziv1.EntryType, p Page, org string, inScope func(string) bool, filtered bool,
	record func(tx *bolt.Tx, s *ledger.Stored) (R, error), matches func(R) bool) ([]R, string, int64, error) {
	var out []R
	var cur R
	have := false
	var match func(tx *bolt.Tx, s *ledger.Stored) (bool, error)
	if filtered {
		match = func(tx *bolt.Tx, s *ledger.Stored) (bool, error) {
			rec, err := record(tx, s)
			if err != nil || !matches(rec) {
				return false, err
			}
			cur, have = rec, true
			return true, nil
		}
	}
	sc := scan{t: t, org: org, match: match}
	if inScope != nil {
		sc.matchKey = func(_ *bolt.Tx, k []byte) bool { return len(k) > 8 && inScope(string(k[:len(k)-8])) }
	} else if !filtered {
		sc.total = func(tx *bolt.Tx) int64 { return total(tx, t, org, nil) }
	}
	next, total, err := b.walk(sc, p, func(tx *bolt.Tx, s *ledger.Stored) error {
		if !have {
			rec, err := record(tx, s)
			if err != nil {
				return err
			}
			cur = rec
		}
		out = append(out, cur)
		return nil
	})
	return out, next, total, err
}

// GetContract reads one contract with its payments summed.
func (b *Books) GetContract(id string) (*sanziv1.ContractRecord, error) {
	rec, _, err := b.ContractDetail(id)
	return rec, err
}

// ContractDetail reads one contract and each of its payments, oldest
// first, reversed ones marked.
func (b *Books) ContractDetail(id string) (*sanziv1.ContractRecord, []*sanziv1.ContractPaymentRecord, error) {
	day := b.today()
	var rec *sanziv1.ContractRecord
	var pays []*sanziv1.ContractPaymentRecord
	err := b.get(id, sanziv1.EntryType_ENTRY_TYPE_CONTRACT, func(tx *bolt.Tx, s *ledger.Stored) error {
		var err error
		if rec, err = contractRecord(tx, s, day); err != nil {
			return err
		}
		for _, pid := range rec.GetPaymentIds() {
			ps, m, err := child(tx, pid)
			if err != nil {
				return err
			}
			pays = append(pays, &sanziv1.ContractPaymentRecord{Entry: ps.Meta(), Payment: m.(*sanziv1.ContractPayment), ReversedBy: reversedBy(tx, ps)})
		}
		return nil
	})
	return rec, pays, err
}

// child reads and decodes the entry a link names.
func child(tx *bolt.Tx, id string) (*ledger.Stored, any, error) {
	o, seq, err := ledger.ParseEntryID(id)
	if err != nil {
		return nil, nil, err
	}
	s, err := ledger.GetTx(tx, o, seq)
	if err != nil {
		return nil, nil, err
	}
	m, err := entries.Decode(s.Type, s.Payload)
	return s, m, err
}

func assetRecord(tx *bolt.Tx, s *ledger.Stored) (*sanziv1.AssetRecord, error) {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return nil, err
	}
	rec := &sanziv1.AssetRecord{Entry: s.Meta(), Asset: m.(*sanziv1.AssetRegistration), ReversedBy: reversedBy(tx, s)}
	children(tx, s, func(id string, t sanziv1.EntryType, amount int64, reversed bool) {
		switch {
		case reversed:
		case t == sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL:
			rec.AppraisalIds = append(rec.AppraisalIds, id)
			rec.AppraisedValueFen = amount
		case t == sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL:
			rec.DisposalId = id
		}
	})
	switch {
	case rec.ReversedBy != "":
		rec.Status = sanziv1.AssetStatus_ASSET_STATUS_REVERSED
	case rec.DisposalId != "":
		rec.Status = sanziv1.AssetStatus_ASSET_STATUS_DISPOSED
	default:
		rec.Status = sanziv1.AssetStatus_ASSET_STATUS_HELD
	}
	return rec, nil
}

// matches is f's test of an asset beyond its origin.
func (f AssetFilter) matches(rec *sanziv1.AssetRecord) bool {
	a := rec.GetAsset()
	if f.Status != 0 && rec.GetStatus() != f.Status {
		return false
	}
	if f.Category != "" && a.GetCategory() != f.Category {
		return false
	}
	return f.Query == "" || contains(strings.ToLower(f.Query), a.GetAssetCode(), a.GetName(), a.GetCategory(), a.GetLocation())
}

// ListAssets returns one page of registered assets, in (org, seq) order;
// filters as for ListContracts.
func (b *Books) ListAssets(f AssetFilter, p Page) ([]*sanziv1.AssetRecord, string, int64, error) {
	if err := checkQuery(f.Query); err != nil {
		return nil, "", 0, err
	}
	if err := checkQuery(f.Category); err != nil {
		return nil, "", 0, &InvalidError{Violations: []Violation{{Field: "category", Reason: "a category of at most 64 characters"}}}
	}
	filtered := f.Query != "" || f.Status != 0 || f.Category != ""
	return listRecords(b, sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, p, f.Org, f.InScope, filtered, assetRecord, f.matches)
}

// GetAsset reads one asset with its history's summary.
func (b *Books) GetAsset(id string) (*sanziv1.AssetRecord, error) {
	rec, _, _, err := b.AssetDetail(id)
	return rec, err
}

// AssetDetail reads one asset, each of its appraisals (oldest first,
// reversed ones marked) and its latest disposal (nil if none).
func (b *Books) AssetDetail(id string) (*sanziv1.AssetRecord, []*sanziv1.AssetAppraisalRecord, *sanziv1.AssetDisposalRecord, error) {
	var rec *sanziv1.AssetRecord
	var apps []*sanziv1.AssetAppraisalRecord
	var disp *sanziv1.AssetDisposalRecord
	err := b.get(id, sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, func(tx *bolt.Tx, s *ledger.Stored) error {
		var err error
		if rec, err = assetRecord(tx, s); err != nil {
			return err
		}
		var ids []string
		children(tx, s, func(id string, _ sanziv1.EntryType, _ int64, _ bool) { ids = append(ids, id) })
		for _, cid := range ids {
			cs, m, err := child(tx, cid)
			if err != nil {
				return err
			}
			switch m := m.(type) {
			case *sanziv1.AssetAppraisal:
				apps = append(apps, &sanziv1.AssetAppraisalRecord{Entry: cs.Meta(), Appraisal: m, ReversedBy: reversedBy(tx, cs)})
			case *sanziv1.AssetDisposal:
				disp = &sanziv1.AssetDisposalRecord{Entry: cs.Meta(), Disposal: m, ReversedBy: reversedBy(tx, cs)}
			}
		}
		return nil
	})
	return rec, apps, disp, err
}
