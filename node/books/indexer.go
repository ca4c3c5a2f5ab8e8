package books

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// fieldRoot is the request field that holds a payload of each type, so that
// errors found in the write transaction name the field the client sent.
func fieldRoot(t sanziv1.EntryType) string {
	switch t {
	case sanziv1.EntryType_ENTRY_TYPE_TRANSACTION:
		return "transaction"
	case sanziv1.EntryType_ENTRY_TYPE_CONTRACT:
		return "contract"
	case sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT:
		return "payment"
	case sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION:
		return "asset"
	case sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL:
		return "appraisal"
	case sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL:
		return "disposal"
	case sanziv1.EntryType_ENTRY_TYPE_REVERSAL:
		return "reversal"
	case sanziv1.EntryType_ENTRY_TYPE_ALERT:
		return "alert"
	case sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION:
		return "transition"
	case sanziv1.EntryType_ENTRY_TYPE_VOUCHER:
		return "voucher"
	case sanziv1.EntryType_ENTRY_TYPE_MONTH_CLOSE:
		return "close"
	case sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN:
		return "reopen"
	}
	return "payload"
}

// indexer implements ledger.Indexer for the books.
type indexer struct{}

func (indexer) Check(tx *bolt.Tx, recs []ledger.Record) error {
	in := newBatch() // what the vouchers of recs add before they are indexed
	for i, r := range recs {
		m, err := entries.Decode(r.Type, r.Payload)
		if err != nil || m == nil {
			continue // unknown types are stored as they are
		}
		if err := checkRefs(tx, r.Origin, r.Type, m); err != nil {
			return err
		}
		switch m := m.(type) {
		case *sanziv1.Voucher:
			if err := checkVoucher(tx, recs, i, m, in); err != nil {
				return err
			}
		case *sanziv1.MonthClose, *sanziv1.MonthReopen:
			if err := checkMonthEntry(tx, r.Origin, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// Invalid is an InvalidError naming one field and why.
func Invalid(field, format string, a ...any) error {
	return &InvalidError{Violations: []Violation{{Field: field, Reason: fmt.Sprintf(format, a...)}}}
}

// Conflict is a ConflictError naming one field and why.
func Conflict(field, format string, a ...any) error {
	return &ConflictError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// target reads the entry id names and checks it is of one of the wanted
// types, of the same origin, and not reversed.
func target(tx *bolt.Tx, field, origin, id string, want ...sanziv1.EntryType) (*ledger.Stored, error) {
	o, seq, err := ledger.ParseEntryID(id)
	if err != nil {
		return nil, Invalid(field, "%v", err)
	}
	if o != origin {
		return nil, Invalid(field, "entry %s belongs to org %s, not %s", id, o, origin)
	}
	s, err := ledger.GetTx(tx, o, seq)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, Invalid(field, "no entry %s on this node", id)
	}
	if err != nil {
		return nil, err
	}
	ok := false
	for _, w := range want {
		ok = ok || s.Type == w
	}
	if !ok {
		return nil, Invalid(field, "entry %s is a %s, not a %s", id, typeName(s.Type), typeName(want[0]))
	}
	if rev := tx.Bucket(bucketReversed).Get(key(o, seq)); rev != nil {
		return nil, Conflict(field, "entry %s was reversed by %s", id, rev)
	}
	return s, nil
}

func typeName(t sanziv1.EntryType) string { return fieldRoot(t) }

// CheckReferences checks m, to be recorded at org as type t, against the
// indexes as recording it would: the attachments and entries it names are
// held, belong to org and are not reversed, and an alert's review follows
// the alert's status. A town checks its review of a village's alert so
// before it records the review as its own decision.
func (b *Books) CheckReferences(org string, t sanziv1.EntryType, m proto.Message) error {
	return b.l.DB().View(func(tx *bolt.Tx) error { return checkRefs(tx, org, t, m) })
}

func checkRefs(tx *bolt.Tx, origin string, t sanziv1.EntryType, m proto.Message) error {
	root := fieldRoot(t) + "."
	if f, hashes := entries.AttachmentsOf(m); len(hashes) > 0 {
		for i, h := range hashes {
			if _, err := attach.DescribeTx(tx, h); err != nil {
				field := root + f
				if f == "attachments" {
					field = fmt.Sprintf("%s[%d]", field, i)
				}
				return Invalid(field, "attachment %s is not on this node: upload it first (POST /v1/attachments)", h)
			}
		}
	}
	switch m := m.(type) {
	case *sanziv1.Reversal:
		_, err := target(tx, root+"targetId", origin, m.GetTargetId(),
			sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_CONTRACT,
			sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION,
			sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL)
		return err
	case *sanziv1.ContractPayment:
		_, err := target(tx, root+"contractId", origin, m.GetContractId(), sanziv1.EntryType_ENTRY_TYPE_CONTRACT)
		return err
	case *sanziv1.AssetAppraisal:
		return checkAsset(tx, root+"assetId", origin, m.GetAssetId())
	case *sanziv1.AssetDisposal:
		return checkAsset(tx, root+"assetId", origin, m.GetAssetId())
	case *sanziv1.AlertTransition:
		s, err := target(tx, root+"alertId", origin, m.GetAlertId(), sanziv1.EntryType_ENTRY_TYPE_ALERT)
		if err != nil {
			return err
		}
		from := alertStatus(tx, key(s.Origin, s.Seq))
		if !allowedTransition(from, m.GetStatus()) {
			return Conflict(root+"status", "alert %s is %s; it cannot become %s (open → acknowledged → confirmed or dismissed; confirmed → resolved)",
				m.GetAlertId(), statusName(from), statusName(m.GetStatus()))
		}
	case *sanziv1.AssetRegistration:
		if id := tx.Bucket(bucketAssetCodes).Get(assetCodeKey(origin, m.GetAssetCode())); id != nil {
			k, _ := keyOf(string(id))
			if tx.Bucket(bucketReversed).Get(k) == nil {
				return Conflict(root+"assetCode", "asset code %s is already registered as %s", m.GetAssetCode(), id)
			}
		}
	}
	return nil
}

func checkAsset(tx *bolt.Tx, field, origin, id string) error {
	s, err := target(tx, field, origin, id, sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION)
	if err != nil {
		return err
	}
	if d := tx.Bucket(bucketDisposed).Get(key(s.Origin, s.Seq)); d != nil {
		dk, err := keyOf(string(d))
		if err != nil {
			return err
		}
		if tx.Bucket(bucketReversed).Get(dk) == nil {
			return Conflict(field, "asset %s was disposed of by %s", id, d)
		}
	}
	return nil
}

func assetCodeKey(origin, code string) []byte { return []byte(origin + "/" + code) }

func linkValue(t sanziv1.EntryType, amount int64) []byte {
	v := make([]byte, 9)
	v[0] = byte(t)
	binary.BigEndian.PutUint64(v[1:], uint64(amount))
	return v
}

func (indexer) Index(tx *bolt.Tx, s *ledger.Stored) error {
	byType, err := tx.Bucket(bucketByType).CreateBucketIfNotExists([]byte{byte(s.Type)})
	if err != nil {
		return err
	}
	byType.FillPercent = 0.9
	if s.Type == sanziv1.EntryType_ENTRY_TYPE_ALERT || s.Type == sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION {
		if err := markAlertEntry(tx, s); err != nil { // before s is in idx_type
			return err
		}
	}
	k := key(s.Origin, s.Seq)
	if err := byType.Put(k, nil); err != nil {
		return err
	}
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil || m == nil {
		return indexFacets(tx, s, nil)
	}
	// Before the status below changes: an alert's review moves it from
	// the status it had.
	if err := indexFacets(tx, s, m); err != nil {
		return err
	}
	if _, hashes := entries.AttachmentsOf(m); len(hashes) > 0 {
		for _, h := range hashes {
			// Check made sure the node's own entries name only attachments
			// it holds; an entry stored verbatim may name one that did not
			// come down with it (a village holds none of its town's).
			if err := attach.LockTx(tx, h, s.ID()); err != nil && !errors.Is(err, attach.ErrNotFound) {
				return err
			}
		}
	}
	if err := indexMonth(tx, s, m); err != nil {
		return err
	}
	link := func(parentID string, amount int64) error {
		pk, err := keyOf(parentID)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketLinks).Put(append(pk, k...), linkValue(s.Type, amount))
	}
	switch m := m.(type) {
	case *sanziv1.Voucher, *sanziv1.MonthClose, *sanziv1.MonthReopen:
		return indexBooks(tx, s, m)
	case *sanziv1.Reversal:
		tk, err := keyOf(m.GetTargetId())
		if err != nil {
			return err
		}
		return tx.Bucket(bucketReversed).Put(tk, []byte(s.ID()))
	case *sanziv1.ContractPayment:
		return link(m.GetContractId(), m.GetAmountFen())
	case *sanziv1.AssetAppraisal:
		return link(m.GetAssetId(), m.GetAppraisedValueFen())
	case *sanziv1.AssetDisposal:
		ak, err := keyOf(m.GetAssetId())
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketDisposed).Put(ak, []byte(s.ID())); err != nil {
			return err
		}
		return link(m.GetAssetId(), m.GetPriceFen())
	case *sanziv1.AssetRegistration:
		return tx.Bucket(bucketAssetCodes).Put(assetCodeKey(s.Origin, m.GetAssetCode()), []byte(s.ID()))
	case *sanziv1.Alert:
		return tx.Bucket(bucketAlertStatus).Put(k, []byte{byte(sanziv1.AlertStatus_ALERT_STATUS_OPEN)})
	case *sanziv1.AlertTransition:
		ak, err := keyOf(m.GetAlertId())
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAlertStatus).Put(ak, []byte{byte(m.GetStatus())}); err != nil {
			return err
		}
		return link(m.GetAlertId(), int64(m.GetStatus()))
	}
	return nil
}

// alertStatus is the current status of the alert at key k.
func alertStatus(tx *bolt.Tx, k []byte) sanziv1.AlertStatus {
	if v := tx.Bucket(bucketAlertStatus).Get(k); len(v) == 1 {
		return sanziv1.AlertStatus(v[0])
	}
	return sanziv1.AlertStatus_ALERT_STATUS_UNSPECIFIED
}

// allowedTransition is the review an alert goes through: open →
// acknowledged → confirmed or dismissed; confirmed → resolved.
func allowedTransition(from, to sanziv1.AlertStatus) bool {
	switch from {
	case sanziv1.AlertStatus_ALERT_STATUS_OPEN:
		return to == sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED
	case sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED:
		return to == sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED || to == sanziv1.AlertStatus_ALERT_STATUS_DISMISSED
	case sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED:
		return to == sanziv1.AlertStatus_ALERT_STATUS_RESOLVED
	}
	return false
}

func statusName(s sanziv1.AlertStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ALERT_STATUS_"))
}

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }
