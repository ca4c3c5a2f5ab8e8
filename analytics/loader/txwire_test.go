package loader

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/analytics/schema"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestReadPayloadsMatchProto adds entries to a range's batch as a decoder
// does (worker.add: a transaction or a voucher read from the wire, readTx
// and readVoucher) and as the
// proto decode does (batch.add of ledger's decoded message), and wants
// the same batch: every table's columns, the rows and undecodable counts,
// and what is deferred to collect (the summaries' inputs, the rule sets).
// The entries are one of every entry type with every field set, then
// transactions written oddly (fields repeated, merged counterparties,
// fields of the wrong wire type, unknown and out-of-range enums, a date
// that does not parse, strings that are not UTF-8, cut payloads), vouchers
// likewise, then random mutations of a transaction's and a voucher's
// bytes.
func TestReadPayloadsMatchProto(t *testing.T) {
	const org = "350505100201"
	at := time.Date(2026, 8, 15, 9, 30, 0, 123_456_789, time.UTC)
	target := &ledger.Stored{Origin: org, Seq: 1, Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, RecordedAt: at.Add(-48 * time.Hour),
		Payload: marshal(t, &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 4_990_000,
			PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "某公司"}, Category: "办公费"})}

	type entry struct {
		typ     sanziv1.EntryType
		payload []byte
	}
	var all []entry
	types := sanziv1.EntryType(0).Descriptor().Values()
	for i := range types.Len() {
		typ := sanziv1.EntryType(types.Get(i).Number())
		m, _ := entries.Decode(typ, nil)
		if m == nil {
			all = append(all, entry{typ, []byte("not a message")})
			continue
		}
		fill(m.ProtoReflect(), 0)
		if r, ok := m.(*sanziv1.Reversal); ok {
			r.TargetId = ledger.EntryID(org, 1)
		}
		all = append(all, entry{typ, marshal(t, m)})
	}
	if len(all) < 20 {
		t.Fatalf("%d entry types", len(all))
	}
	tx := func(m *sanziv1.Transaction) entry {
		return entry{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, marshal(t, m)}
	}
	full := &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 12_300,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, BusinessDate: "2026-07-31", Summary: "办公用品", BudgetLine: "行政",
		Category: "办公费", Counterparty: &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"},
		Attachments: []string{"a1", "a2"}, VoucherNumber: "记-1"}
	fullRaw := marshal(t, full)
	cat := func(parts ...[]byte) entry {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return entry{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, b}
	}
	str := func(n protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, n, protowire.BytesType), s)
	}
	varint := func(n protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), v)
	}
	msg := func(n protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), b)
	}
	all = append(all,
		tx(full),
		tx(&sanziv1.Transaction{}),
		tx(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: -5, BusinessDate: "31/07/2026"}),
		tx(&sanziv1.Transaction{Kind: 99, PaymentMethod: 77, AmountFen: 1 << 40, Counterparty: &sanziv1.Counterparty{}}),
		tx(&sanziv1.Transaction{Kind: -3, PaymentMethod: -1}),
		entry{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, nil},
		// Repeated scalars: the last wins; repeated counterparties merge.
		cat(fullRaw, varint(3, 777), str(13, "差旅费"), msg(5, str(2, "another id")), varint(2, 1)),
		cat(fullRaw, msg(5, str(1, "")), str(6, "")),
		// Fields of the wrong wire type are unknown, as are fields the
		// schema does not have (a varint, a fixed64, a group).
		cat(fullRaw, str(3, "not a varint"), varint(13, 5), varint(5, 1), varint(99, 1),
			protowire.AppendFixed64(protowire.AppendTag(nil, 98, protowire.Fixed64Type), 1),
			protowire.AppendTag(protowire.AppendTag(nil, 97, protowire.StartGroupType), 97, protowire.EndGroupType)),
		cat(fullRaw, msg(5, varint(1, 7))),
		// Not UTF-8: in a loaded field, in one only checked, in the
		// counterparty's loaded and unloaded fields.
		cat(fullRaw, str(13, "\xff")),
		cat(fullRaw, str(7, "\xc3\x28")),
		cat(fullRaw, str(12, "\xff")),
		cat(fullRaw, msg(5, str(1, "\xff"))),
		cat(fullRaw, msg(5, str(5, "\xff"))),
		cat(fullRaw, msg(5, str(3, "\xff"))),
		cat(fullRaw, str(14, "\xff")),
		// Malformed: cut, a field number 0, one past the largest, a wire
		// type that does not exist, an end group with no start.
		entry{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, fullRaw[:len(fullRaw)-2]},
		cat(fullRaw, []byte{0x02, 0x00}),
		cat(fullRaw, protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1)),
		cat(fullRaw, []byte{0x0e}),
		cat(fullRaw, protowire.AppendTag(nil, 96, protowire.EndGroupType)),
		cat(fullRaw, msg(5, []byte{0x0a, 0x05, 'a'})),
	)
	vch := func(m *sanziv1.Voucher) entry {
		return entry{sanziv1.EntryType_ENTRY_TYPE_VOUCHER, marshal(t, m)}
	}
	line := func(account string, debit, credit int64) *sanziv1.VoucherLine {
		return &sanziv1.VoucherLine{Account: account, DebitFen: debit, CreditFen: credit, Summary: "摘要", Counterparty: "某公司"}
	}
	fullVoucher := &sanziv1.Voucher{Org: org, BusinessDate: "2026-07-31", Number: 12, Summary: "付办公费", ReversesVoucherId: ledger.EntryID(org, 3),
		Lines: []*sanziv1.VoucherLine{line("5010101", 12_300, 0), line("101", 0, 12_300)}, Attachments: []string{"a"}, ChartVersion: "2026"}
	voucherRaw := marshal(t, fullVoucher)
	vcat := func(parts ...[]byte) entry {
		e := cat(parts...)
		e.typ = sanziv1.EntryType_ENTRY_TYPE_VOUCHER
		return e
	}
	all = append(all,
		vch(fullVoucher),
		vch(&sanziv1.Voucher{}),
		vch(&sanziv1.Voucher{Org: "350505100202", Number: -4, Opening: true, BusinessDate: "bad", Lines: []*sanziv1.VoucherLine{line("3", 1, 0), {}}}),
		vch(&sanziv1.Voucher{Lines: []*sanziv1.VoucherLine{line(chart.CurrentYearIncome, 0, 500), line("", -7, 1<<40)}}),
		// A line more, repeated scalars, a wrong wire type, a bool of 2.
		vcat(voucherRaw, msg(5, str(1, "102")), varint(3, 99), str(3, "x"), varint(10, 2), varint(5, 1)),
		vcat(voucherRaw, msg(5, cat(str(1, "1"), varint(2, 5), str(1, "2"), varint(2, 6), str(2, "not a varint")).payload)),
		vcat(voucherRaw, str(4, "\xff")),
		vcat(voucherRaw, msg(5, str(6, "\xff"))),
		vcat(voucherRaw, msg(5, str(7, "\xff"))),
		vcat(voucherRaw, str(9, "\xff")),
		vcat(voucherRaw, msg(5, str(1, "\xc3\x28"))),
		vcat(voucherRaw, msg(5, []byte{0x0a, 0x05, 'a'})),
		vcat(voucherRaw, msg(5, protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1))),
		entry{sanziv1.EntryType_ENTRY_TYPE_VOUCHER, voucherRaw[:len(voucherRaw)-1]},
	)
	rnd := rand.New(rand.NewPCG(17, 3))
	for i := range 6000 {
		raw, typ := fullRaw, sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
		if i%2 == 1 {
			raw, typ = voucherRaw, sanziv1.EntryType_ENTRY_TYPE_VOUCHER
		}
		b := append([]byte(nil), raw...)
		for range 1 + rnd.IntN(3) {
			switch rnd.IntN(3) {
			case 0:
				b[rnd.IntN(len(b))] = byte(rnd.Uint32())
			case 1:
				b = b[:rnd.IntN(len(b))]
			case 2:
				i := rnd.IntN(len(b) + 1)
				b = append(b[:i], append([]byte{byte(rnd.Uint32())}, b[i:]...)...)
			}
			if len(b) == 0 {
				break
			}
		}
		all = append(all, entry{typ, b})
	}

	var pool rangePool
	w := &worker{cache: newCache()}
	wire, decoded := pool.get(nil), pool.get(nil)
	wire.cache = w.cache
	lookup := func(origin string, seq uint64) (*ledger.Stored, error) {
		if origin != target.Origin || seq != target.Seq {
			return nil, fmt.Errorf("no entry %s", ledger.EntryID(origin, seq))
		}
		return target, nil
	}
	wire.lookup, decoded.lookup = lookup, lookup
	decodable, undecodable := map[sanziv1.EntryType]int{}, map[sanziv1.EntryType]int{}
	for i, e := range all {
		s := &ledger.Stored{Origin: org, Seq: uint64(10 + i), Type: e.typ, Author: "kj", RecordedAt: at.Add(time.Duration(i) * time.Second), Payload: e.payload}
		index := uint64(100 + i/7) // several entries to an index, as a range has
		before := wire.undecodable
		if err := w.add(wire, index, s); err != nil {
			t.Fatalf("entry %d (%s): %v", i, e.typ, err)
		}
		m, err := decode(s)
		if err := decoded.add(index, s, m, err, nil); err != nil {
			t.Fatalf("entry %d (%s): %v", i, e.typ, err)
		}
		if wire.undecodable > before {
			undecodable[e.typ]++
		} else {
			decodable[e.typ]++
		}
		if !sameBatch(t, wire, decoded) {
			t.Fatalf("entry %d (%s, payload %x): the batches differ", i, e.typ, e.payload)
		}
	}
	// The mutations must have reached both outcomes, or the comparison
	// proved little.
	for _, typ := range []sanziv1.EntryType{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_VOUCHER} {
		if decodable[typ] < 100 || undecodable[typ] < 100 {
			t.Fatalf("%s: %d decodable, %d not: the cases do not cover both", typ, decodable[typ], undecodable[typ])
		}
	}
	for _, name := range []string{"transactions", "voucher_lines"} {
		if wire.tables[name] == nil || wire.tables[name].n < 100 {
			t.Fatalf("few %s rows were compared", name)
		}
	}
}

// sameBatch says whether two batches of one range hold the same rows and
// deferred the same work, reporting the first difference.
func sameBatch(t *testing.T, a, b *batch) bool {
	t.Helper()
	if a.rows != b.rows || a.undecodable != b.undecodable {
		t.Errorf("rows %d and %d, undecodable %d and %d", a.rows, b.rows, a.undecodable, b.undecodable)
		return false
	}
	for _, name := range tablesIn(a.tables, b.tables) {
		ta, tb := a.tables[name], b.tables[name]
		if ta == nil || tb == nil || ta.n != tb.n || ta.err != nil || tb.err != nil || !reflect.DeepEqual(ta.cols, tb.cols) {
			t.Errorf("table %s differs", name)
			return false
		}
	}
	da, db := *a.deferred, *b.deferred
	if len(da) != len(db) {
		t.Errorf("%d and %d deferred", len(da), len(db))
		return false
	}
	for i := range da {
		x, y := da[i], db[i]
		if !proto.Equal(x.set, y.set) || (x.s == nil) != (y.s == nil) || x.s != nil && !reflect.DeepEqual(*x.s, *y.s) {
			t.Errorf("deferred %d: rule sets differ", i)
			return false
		}
		x.set, y.set, x.s, y.s = nil, nil, nil, nil
		if x != y {
			t.Errorf("deferred %d: %+v and %+v", i, x, y)
			return false
		}
	}
	return true
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fill sets every field of m (messages three levels deep), so each entry
// type's rows come from non-zero values.
func fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		switch {
		case f.IsMap():
			if f.MapKey().Kind() == protoreflect.StringKind && f.MapValue().Kind() == protoreflect.StringKind {
				m.Mutable(f).Map().Set(protoreflect.ValueOfString("failure").MapKey(), protoreflect.ValueOfString("hash"))
			}
		case f.IsList():
			l := m.Mutable(f).List()
			for range 2 {
				if f.Kind() == protoreflect.MessageKind {
					if depth < 3 {
						e := l.NewElement()
						fill(e.Message(), depth+1)
						l.Append(e)
					}
					continue
				}
				l.Append(scalar(f, i))
			}
		case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
			if depth < 3 {
				fill(m.Mutable(f).Message(), depth+1)
			}
		default:
			m.Set(f, scalar(f, i))
		}
	}
}

// scalar is a non-zero value for field f (the i-th of its message).
func scalar(f protoreflect.FieldDescriptor, i int) protoreflect.Value {
	switch f.Kind() {
	case protoreflect.StringKind:
		if f.Name() == "business_date" || f.Name() == "term_start" || f.Name() == "term_end" {
			return protoreflect.ValueOfString("2026-07-31")
		}
		return protoreflect.ValueOfString(fmt.Sprintf("%s值%d", f.Name(), i))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(i), 1})
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := f.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(vals.Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(100 + i))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(1_234_500 + i))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(100 + i))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(100 + i))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(2.5)
	}
	return protoreflect.Value{}
}

// TestKindNamesMatchTheSchema: the summaries name a transaction's kind with
// kindName, the transactions table with the server's DEFAULT from its
// number (schema migration 11, schema.TransactionKindNames): the two must
// agree for every kind, or monthly and transactions would disagree.
func TestKindNamesMatchTheSchema(t *testing.T) {
	names := schema.TransactionKindNames()
	for _, k := range []sanziv1.TransactionKind{0, 1, 2, 3, 4, 5, 99} {
		want := names[int32(k)]
		if want == "" {
			want = "unknown"
		}
		if got := kindName(k); got != want {
			t.Errorf("kindName(%d) = %q, the schema's name %q", k, got, want)
		}
	}
	for n := range sanziv1.TransactionKind_name {
		if n != 0 && names[n] == "" {
			t.Errorf("kind %d has no name in the schema", n)
		}
	}
}
