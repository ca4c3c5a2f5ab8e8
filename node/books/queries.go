package books

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TransactionFilter narrows ListTransactions.
type TransactionFilter struct {
	Org  string
	Kind sanziv1.TransactionKind
}

func reversedBy(tx *bolt.Tx, s *ledger.Stored) string {
	return string(tx.Bucket(bucketReversed).Get(key(s.Origin, s.Seq)))
}

func orgMatches(want, origin string) bool { return want == "" || want == origin }

// ListTransactions returns one page of transactions.
func (b *Books) ListTransactions(f TransactionFilter, p Page) ([]*sanziv1.TransactionRecord, string, int64, error) {
	var out []*sanziv1.TransactionRecord
	build := func(tx *bolt.Tx, s *ledger.Stored) error {
		rec, err := transactionRecord(tx, s)
		out = append(out, rec)
		return err
	}
	if f.Kind == 0 {
		// By org alone: the index keys say it, only the page is read.
		next, total, err := b.listByOrigin(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, p, func(origin string) bool { return orgMatches(f.Org, origin) }, build)
		return out, next, total, err
	}
	next, total, err := b.list(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, p, func(tx *bolt.Tx, s *ledger.Stored) (bool, error) {
		if !orgMatches(f.Org, s.Origin) {
			return false, nil
		}
		if f.Kind == 0 {
			return true, nil
		}
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return false, err
		}
		return m.(*sanziv1.Transaction).GetKind() == f.Kind, nil
	}, build)
	return out, next, total, err
}

func transactionRecord(tx *bolt.Tx, s *ledger.Stored) (*sanziv1.TransactionRecord, error) {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return nil, err
	}
	return &sanziv1.TransactionRecord{Entry: s.Meta(), Transaction: m.(*sanziv1.Transaction), ReversedBy: reversedBy(tx, s)}, nil
}

// get reads entry id, checking it has type t.
func (b *Books) get(id string, t sanziv1.EntryType, build func(tx *bolt.Tx, s *ledger.Stored) error) error {
	o, seq, err := ledger.ParseEntryID(id)
	if err != nil {
		return &InvalidError{Violations: []Violation{{Field: "id", Reason: err.Error()}}}
	}
	return b.l.DB().View(func(tx *bolt.Tx) error {
		s, err := ledger.GetTx(tx, o, seq)
		if errors.Is(err, ledger.ErrNotFound) || err == nil && s.Type != t {
			return fmt.Errorf("%w: no %s with id %s", ErrNotFound, typeName(t), id)
		}
		if err != nil {
			return err
		}
		return build(tx, s)
	})
}

// GetTransaction reads one transaction.
func (b *Books) GetTransaction(id string) (*sanziv1.TransactionRecord, error) {
	var out *sanziv1.TransactionRecord
	err := b.get(id, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, func(tx *bolt.Tx, s *ledger.Stored) error {
		var err error
		out, err = transactionRecord(tx, s)
		return err
	})
	return out, err
}

// children walks the links of parent in order.
func children(tx *bolt.Tx, parent *ledger.Stored, fn func(childID string, t sanziv1.EntryType, amount int64, reversed bool)) {
	pk := key(parent.Origin, parent.Seq)
	c := tx.Bucket(bucketLinks).Cursor()
	for k, v := c.Seek(pk); k != nil && bytes.HasPrefix(k, pk); k, v = c.Next() {
		ck := k[len(pk):]
		fn(idOfKey(ck), sanziv1.EntryType(v[0]), int64(binary.BigEndian.Uint64(v[1:])), tx.Bucket(bucketReversed).Get(ck) != nil)
	}
}

// LedgerEntry decodes a stored entry for reading.
func LedgerEntry(s *ledger.Stored) (*sanziv1.LedgerEntry, error) {
	var e sanziv1.Entry
	if err := protoUnmarshal(s.Raw, &e); err != nil {
		return nil, err
	}
	out := &sanziv1.LedgerEntry{Entry: &e, Meta: s.Meta(), PrevHash: hex.EncodeToString(s.PrevHash[:])}
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *sanziv1.Transaction:
		out.Payload = &sanziv1.LedgerEntry_Transaction{Transaction: m}
	case *sanziv1.Contract:
		out.Payload = &sanziv1.LedgerEntry_Contract{Contract: m}
	case *sanziv1.ContractPayment:
		out.Payload = &sanziv1.LedgerEntry_ContractPayment{ContractPayment: m}
	case *sanziv1.AssetRegistration:
		out.Payload = &sanziv1.LedgerEntry_AssetRegistration{AssetRegistration: m}
	case *sanziv1.AssetAppraisal:
		out.Payload = &sanziv1.LedgerEntry_AssetAppraisal{AssetAppraisal: m}
	case *sanziv1.AssetDisposal:
		out.Payload = &sanziv1.LedgerEntry_AssetDisposal{AssetDisposal: m}
	case *sanziv1.Reversal:
		out.Payload = &sanziv1.LedgerEntry_Reversal{Reversal: m}
	}
	return out, nil
}

// AlertFilter narrows ListAlerts; zero fields match all.
type AlertFilter struct {
	Org, RuleCode, Severity string
	Status                  sanziv1.AlertStatus
	// Since and Until bound when the alert was raised: [Since, Until).
	// Zero means unbounded.
	Since, Until time.Time
}

func alertRecord(tx *bolt.Tx, s *ledger.Stored) (*sanziv1.AlertRecord, error) {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return nil, err
	}
	rec := &sanziv1.AlertRecord{Entry: s.Meta(), Alert: m.(*sanziv1.Alert), SubjectId: s.Subject, Status: alertStatus(tx, key(s.Origin, s.Seq))}
	var ferr error
	children(tx, s, func(id string, t sanziv1.EntryType, _ int64, _ bool) {
		if t != sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION || ferr != nil {
			return
		}
		o, seq, err := ledger.ParseEntryID(id)
		if err != nil {
			ferr = err
			return
		}
		ts, err := ledger.GetTx(tx, o, seq)
		if err != nil {
			ferr = err
			return
		}
		tm, err := entries.Decode(ts.Type, ts.Payload)
		if err != nil {
			ferr = err
			return
		}
		tr := tm.(*sanziv1.AlertTransition)
		rec.History = append(rec.History, &sanziv1.AlertEvent{Status: tr.GetStatus(), By: ts.Author, Reason: tr.GetReason(), At: ts.Meta().GetRecordedAt(), EntryId: id})
	})
	return rec, ferr
}

// ListAlerts returns one page of alerts, oldest first.
func (b *Books) ListAlerts(f AlertFilter, p Page) ([]*sanziv1.AlertRecord, string, int64, error) {
	var out []*sanziv1.AlertRecord
	next, total, err := b.list(sanziv1.EntryType_ENTRY_TYPE_ALERT, p, func(tx *bolt.Tx, s *ledger.Stored) (bool, error) {
		if !orgMatches(f.Org, s.Origin) {
			return false, nil
		}
		if f.Status != 0 && alertStatus(tx, key(s.Origin, s.Seq)) != f.Status {
			return false, nil
		}
		if (!f.Since.IsZero() && s.RecordedAt.Before(f.Since)) || (!f.Until.IsZero() && !s.RecordedAt.Before(f.Until)) {
			return false, nil
		}
		if f.RuleCode == "" && f.Severity == "" {
			return true, nil
		}
		m, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return false, err
		}
		a := m.(*sanziv1.Alert)
		return (f.RuleCode == "" || a.GetRuleCode() == f.RuleCode) && (f.Severity == "" || a.GetSeverity() == f.Severity), nil
	}, func(tx *bolt.Tx, s *ledger.Stored) error {
		rec, err := alertRecord(tx, s)
		out = append(out, rec)
		return err
	})
	return out, next, total, err
}

// GetAlert reads one alert with its history.
func (b *Books) GetAlert(id string) (*sanziv1.AlertRecord, error) {
	var out *sanziv1.AlertRecord
	err := b.get(id, sanziv1.EntryType_ENTRY_TYPE_ALERT, func(tx *bolt.Tx, s *ledger.Stored) error {
		var err error
		out, err = alertRecord(tx, s)
		return err
	})
	return out, err
}

// CardFilter selects cards; empty fields match all.
type CardFilter struct {
	Org, Post, ProcedureID string
	Level                  sanziv1.CardLevel
}

// ListCards lists the cards given, oldest first.
func (b *Books) ListCards(f CardFilter, p Page) ([]*sanziv1.CardRecord, string, int64, error) {
	var out []*sanziv1.CardRecord
	var card *sanziv1.Card
	next, total, err := b.list(sanziv1.EntryType_ENTRY_TYPE_CARD, p, func(_ *bolt.Tx, s *ledger.Stored) (bool, error) {
		if !orgMatches(f.Org, s.Origin) {
			return false, nil
		}
		card = &sanziv1.Card{}
		if err := proto.Unmarshal(s.Payload, card); err != nil {
			return false, err
		}
		return (f.Post == "" || card.GetPost() == f.Post) && (f.ProcedureID == "" || card.GetProcedureId() == f.ProcedureID) &&
			(f.Level == 0 || card.GetLevel() == f.Level), nil
	}, func(_ *bolt.Tx, s *ledger.Stored) error {
		out = append(out, &sanziv1.CardRecord{Entry: s.Meta(), Card: card})
		return nil
	})
	return out, next, total, err
}
