package entries

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// hash is a name as entries give them.
const hash = "4f1c2a9e0b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"

// samples are valid payloads of every type that names attachments, each
// field kind the walk reads present at least once: the seeds the mutations
// and the fuzzer start from.
func samples() []struct {
	t   sanziv1.EntryType
	msg proto.Message
} {
	cp := &sanziv1.Counterparty{Name: "Xiamen Fuel Co.", IdNumber: "350505199001011234", Phone: "13800000000"}
	return []struct {
		t   sanziv1.EntryType
		msg proto.Message
	}{
		{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.Transaction{Org: "350505100201", Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: -12_345,
			Counterparty: cp, Summary: "柴油", Attachments: []string{hash, "", "aa"}, Category: "办公费"}},
		{sanziv1.EntryType_ENTRY_TYPE_CONTRACT, &sanziv1.Contract{Org: "350505100201", Counterparty: cp,
			Object:   &sanziv1.ContractObject{ObjectId: "田-7", AreaMu: 12.5},
			Schedule: []*sanziv1.ScheduledPayment{{DueDate: "2026-01-01", AmountFen: 100}, {DueDate: "2027-01-01"}}, Attachments: []string{hash}}},
		{sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, &sanziv1.ContractPayment{Org: "350505100201", AmountFen: 5, Attachments: []string{"bb"}}},
		{sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, &sanziv1.AssetRegistration{Org: "350505100201", Name: "水泵", Attachments: []string{hash}}},
		{sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, &sanziv1.AssetDisposal{Org: "350505100201", Counterparty: cp, Attachments: []string{hash}}},
		{sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, &sanziv1.AssetAppraisal{AssetId: "x-1", AppraisedValueFen: 9, ReportAttachment: hash}},
		{sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{ProcedureId: "p-1", Closes: true, Attachments: []string{hash},
			StepOpenedAt: timestamppb.New(timestamppb.Now().AsTime()), Disclosure: &sanziv1.DisclosureApproval{ContentSha256: hash, ItemizeFromFen: 3}}},
		{sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, &sanziv1.Complaint{Number: "c-1", Text: "路灯坏了", Photos: []string{hash, "cc"}, ContactSealed: []byte{0xff, 0xfe}}},
		{sanziv1.EntryType_ENTRY_TYPE_VOUCHER, &sanziv1.Voucher{Org: "350505100201", Number: 7, Opening: true,
			Lines: []*sanziv1.VoucherLine{{Account: "101", DebitFen: 5}, {Account: "501", CreditFen: 5}}, Attachments: []string{hash}}},
	}
}

// decoded is what the full decode names for payload, and whether it fails.
func decoded(t sanziv1.EntryType, payload []byte) ([]string, bool) {
	m, err := Decode(t, payload)
	if err != nil {
		return nil, false
	}
	_, hs := AttachmentsOf(m)
	return slices.DeleteFunc(slices.Clone(hs), func(h string) bool { return h == "" }), true
}

// agree fails t unless AttachmentsIn names for payload exactly what the
// full decode names, and fails exactly when it fails.
func agree(t *testing.T, typ sanziv1.EntryType, payload []byte) {
	t.Helper()
	want, ok := decoded(typ, payload)
	got, err := AttachmentsIn(typ, payload, nil)
	if ok != (err == nil) {
		_, derr := Decode(typ, payload)
		t.Fatalf("%s payload %x: walk error %v, decode error %v", typ, payload, err, derr)
	}
	names := make([]string, len(got))
	for i, h := range got {
		names[i] = string(h)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("%s payload %x: walk names %q, decode %q", typ, payload, names, want)
	}
}

func TestAttachmentsWalkCoversEveryType(t *testing.T) {
	for _, s := range samples() {
		if _, ok := walkOf(s.t); !ok {
			t.Errorf("%s has no walk: its payload type holds a field kind the walk does not model, so every member decodes it whole (slow, still correct); model it in walk.go", s.t)
		}
	}
	sampled := map[sanziv1.EntryType]bool{}
	for _, s := range samples() {
		sampled[s.t] = true
	}
	walked := map[sanziv1.EntryType]bool{}
	for _, a := range attachmentFields {
		walked[a.t] = true
		if !namesAttachments(a.t) {
			t.Errorf("%s has an attachments field but namesAttachments leaves it out", a.t)
		}
		if !sampled[a.t] {
			t.Errorf("%s has an attachments field but no sample: the fuzzer has no seed of it", a.t)
		}
	}
	for v := range sanziv1.EntryType_name {
		if typ := sanziv1.EntryType(v); namesAttachments(typ) && !walked[typ] {
			t.Errorf("%s names attachments but attachmentFields says not where", typ)
		}
	}
}

// TestShapeRefuses: a message type with what the walk does not model has
// no shape (its entries are decoded whole), and neither has one holding it.
func TestShapeRefuses(t *testing.T) {
	for _, m := range []proto.Message{
		&sanziv1.Alert{},                    // a map
		&descriptorpb.FileDescriptorProto{}, // proto2, extension ranges below
		&structpb.Value{},                   // holds itself through a map
	} {
		md := m.ProtoReflect().Descriptor()
		if s, err := shapeOf(md, map[protoreflect.FullName]*shape{}); err == nil {
			t.Errorf("%s has a shape %v, want none", md.FullName(), s)
		}
	}
}

// field is a hand-made field of a payload.
func field(num protowire.Number, typ protowire.Type, v []byte) []byte {
	return append(protowire.AppendTag(nil, num, typ), v...)
}

func str(s string) []byte  { return protowire.AppendBytes(nil, []byte(s)) }
func vint(u uint64) []byte { return protowire.AppendVarint(nil, u) }
func cat(bs ...[]byte) []byte {
	return bytes.Join(bs, nil)
}

func TestAttachmentsWalkEdgeCases(t *testing.T) {
	tx, appraisal, voucher := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, sanziv1.EntryType_ENTRY_TYPE_VOUCHER
	step, complaint := sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, sanziv1.EntryType_ENTRY_TYPE_COMPLAINT
	attach := field(12, protowire.BytesType, str(hash)) // Transaction.attachments
	bad := string([]byte{0xc3, 0x28})                   // invalid UTF-8
	deep := func(n int) []byte {                        // n nested unknown groups
		var b []byte
		for i := 0; i < n; i++ {
			b = protowire.AppendTag(b, 99, protowire.StartGroupType)
		}
		for i := 0; i < n; i++ {
			b = protowire.AppendTag(b, 99, protowire.EndGroupType)
		}
		return b
	}
	tests := []struct {
		name    string
		typ     sanziv1.EntryType
		payload []byte
		want    []string // nil with wantErr
		wantErr bool
	}{
		{"empty payload", tx, nil, nil, false},
		{"one attachment", tx, attach, []string{hash}, false},
		{"empty names are left out", tx, cat(field(12, protowire.BytesType, str("")), attach), []string{hash}, false},
		{"invalid UTF-8 in the attachment", tx, field(12, protowire.BytesType, str(bad)), nil, true},
		{"invalid UTF-8 in another string", tx, cat(attach, field(7, protowire.BytesType, str(bad))), nil, true},
		{"invalid UTF-8 in a nested message's string", tx, cat(attach, field(5, protowire.BytesType, protowire.AppendBytes(nil, field(1, protowire.BytesType, str(bad))))), nil, true},
		{"invalid UTF-8 in a voucher line", voucher, cat(field(6, protowire.BytesType, str(hash)), field(5, protowire.BytesType, protowire.AppendBytes(nil, field(4, protowire.BytesType, str(bad))))), nil, true},
		{"invalid UTF-8 in bytes is fine", complaint, cat(field(7, protowire.BytesType, str(hash)), field(8, protowire.BytesType, str(bad))), []string{hash}, false},
		{"invalid UTF-8 in an unknown field is fine", tx, cat(attach, field(99, protowire.BytesType, str(bad))), []string{hash}, false},
		{"attachments as a varint are unknown", tx, field(12, protowire.VarintType, vint(5)), nil, false},
		{"a nested message as a varint is unknown", tx, cat(attach, field(5, protowire.VarintType, vint(1))), []string{hash}, false},
		{"an int64 as fixed64 is unknown", tx, cat(attach, field(3, protowire.Fixed64Type, make([]byte, 8))), []string{hash}, false},
		{"a truncated fixed64", tx, cat(attach, field(3, protowire.Fixed64Type, make([]byte, 7))), nil, true},
		{"a truncated length", tx, cat(attach, protowire.AppendTag(nil, 7, protowire.BytesType), vint(10), []byte("abc")), nil, true},
		{"a truncated nested message", tx, cat(attach, field(5, protowire.BytesType, protowire.AppendBytes(nil, cat(protowire.AppendTag(nil, 1, protowire.BytesType), vint(9))))), nil, true},
		{"a varint overflowing 64 bits", tx, cat(attach, field(3, protowire.VarintType, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})), nil, true},
		{"a ten-byte varint that fits", tx, cat(attach, field(3, protowire.VarintType, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})), []string{hash}, false},
		{"an overlong tag", tx, cat([]byte{0xe2, 0x80, 0x00}, str(hash)), []string{hash}, false},
		{"field number 0", tx, cat(attach, field(0, protowire.VarintType, vint(1))), nil, true},
		{"the highest field number", tx, cat(attach, field(protowire.MaxValidNumber, protowire.VarintType, vint(1))), []string{hash}, false},
		{"a field number past the highest", tx, cat(attach, protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), vint(1)), nil, true},
		{"a field number past int32", tx, cat(attach, protowire.AppendVarint(nil, uint64(1)<<34), vint(1)), nil, true},
		{"wire type 6", tx, cat(attach, protowire.AppendVarint(nil, 99<<3|6)), nil, true},
		{"wire type 7", tx, cat(attach, protowire.AppendVarint(nil, 99<<3|7)), nil, true},
		{"an unknown group", tx, cat(attach, field(99, protowire.StartGroupType, field(1, protowire.VarintType, vint(1))), protowire.AppendTag(nil, 99, protowire.EndGroupType)), []string{hash}, false},
		{"a group ended by another number", tx, cat(attach, protowire.AppendTag(nil, 99, protowire.StartGroupType), protowire.AppendTag(nil, 98, protowire.EndGroupType)), nil, true},
		{"an unterminated group", tx, cat(attach, protowire.AppendTag(nil, 99, protowire.StartGroupType)), nil, true},
		{"an end group alone", tx, cat(attach, protowire.AppendTag(nil, 99, protowire.EndGroupType)), nil, true},
		{"attachments as a group are unknown", tx, cat(protowire.AppendTag(nil, 12, protowire.StartGroupType), protowire.AppendTag(nil, 12, protowire.EndGroupType)), nil, false},
		{"groups nested to the limit", tx, cat(attach, deep(protowire.DefaultRecursionLimit+1)), []string{hash}, false},
		{"groups nested past the limit", tx, cat(attach, deep(protowire.DefaultRecursionLimit+2)), nil, true},
		{"an appraisal's last report wins", appraisal, cat(field(6, protowire.BytesType, str("aa")), field(6, protowire.BytesType, str(hash))), []string{hash}, false},
		{"an appraisal's report cleared by a later empty one", appraisal, cat(field(6, protowire.BytesType, str(hash)), field(6, protowire.BytesType, str(""))), nil, false},
		{"an appraisal with an earlier bad report", appraisal, cat(field(6, protowire.BytesType, str(bad)), field(6, protowire.BytesType, str(hash))), nil, true},
		{"a timestamp with a string in it", step, cat(field(7, protowire.BytesType, str(hash)), field(9, protowire.BytesType, protowire.AppendBytes(nil, field(1, protowire.BytesType, str(bad))))), []string{hash}, false},
		{"a timestamp's seconds truncated", step, cat(field(7, protowire.BytesType, str(hash)), field(9, protowire.BytesType, protowire.AppendBytes(nil, cat(protowire.AppendTag(nil, 1, protowire.VarintType), []byte{0x80})))), nil, true},
		{"a bool of any varint", step, cat(field(7, protowire.BytesType, str(hash)), field(8, protowire.VarintType, vint(1<<40))), []string{hash}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agree(t, tc.typ, tc.payload) // the decode is the judge; the table says what it judges
			got, err := AttachmentsIn(tc.typ, tc.payload, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("AttachmentsIn error = %v, want error %v", err, tc.wantErr)
			}
			var names []string
			for _, h := range got {
				names = append(names, string(h))
			}
			if !slices.Equal(names, tc.want) {
				t.Fatalf("AttachmentsIn = %q, want %q", names, tc.want)
			}
		})
	}
}

func TestAttachmentsInAppendsToDst(t *testing.T) {
	tx := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	dst := [][]byte{[]byte("kept")}
	got, err := AttachmentsIn(tx, cat(field(12, protowire.BytesType, str("")), field(12, protowire.BytesType, str(hash))), dst)
	if err != nil || len(got) != 2 || string(got[0]) != "kept" || string(got[1]) != hash {
		t.Fatalf("AttachmentsIn onto one name = %q, %v; want [kept %s]", got, err, hash)
	}
	got, err = AttachmentsIn(sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, cat(field(6, protowire.BytesType, str("aa")), field(6, protowire.BytesType, str(hash))), dst)
	if err != nil || len(got) != 2 || string(got[0]) != "kept" || string(got[1]) != hash {
		t.Fatalf("an appraisal onto one name = %q, %v; want [kept %s]", got, err, hash)
	}
	got, err = AttachmentsIn(tx, field(12, protowire.BytesType, str(string([]byte{0xff}))), dst)
	if err == nil || len(got) != 1 {
		t.Fatalf("a bad payload onto one name = %q, %v; want [kept] and an error", got, err)
	}
}

// mutate changes b in one of the ways a damaged or hostile payload differs
// from a good one.
func mutate(r *rand.Rand, b []byte) []byte {
	b = slices.Clone(b)
	switch r.IntN(8) {
	case 0: // flip a bit
		if len(b) > 0 {
			b[r.IntN(len(b))] ^= 1 << r.IntN(8)
		}
	case 1: // set a byte
		if len(b) > 0 {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
	case 2: // cut
		if len(b) > 0 {
			b = b[:r.IntN(len(b))]
		}
	case 3: // insert bytes that are not UTF-8 or that end a group
		at := r.IntN(len(b) + 1)
		ins := [][]byte{{0xff}, {0xc3, 0x28}, {0xed, 0xa0, 0x80}, {0x80}, {0x0c}, {0x64}}[r.IntN(6)]
		b = slices.Insert(b, at, ins...)
	case 4: // delete a byte
		if len(b) > 0 {
			i := r.IntN(len(b))
			b = slices.Delete(b, i, i+1)
		}
	case 5: // append a random field
		num := protowire.Number([]int{1, 5, 6, 7, 9, 12, 99, 536870911}[r.IntN(8)])
		typ := protowire.Type(r.IntN(8))
		b = protowire.AppendTag(b, num, typ)
		switch typ {
		case protowire.VarintType:
			b = protowire.AppendVarint(b, r.Uint64())
		case protowire.Fixed32Type:
			b = protowire.AppendFixed32(b, r.Uint32())
		case protowire.Fixed64Type:
			b = protowire.AppendFixed64(b, r.Uint64())
		case protowire.BytesType:
			b = protowire.AppendBytes(b, []byte([]string{hash, "\xff", "", "ok", "\xc3\x28"}[r.IntN(5)]))
		}
	case 6: // duplicate a span
		if len(b) > 1 {
			i := r.IntN(len(b))
			j := i + r.IntN(len(b)-i)
			b = slices.Insert(b, j, b[i:j]...)
		}
	case 7: // wrap the whole in a field of its own
		b = protowire.AppendBytes(protowire.AppendTag(nil, protowire.Number(1+r.IntN(12)), protowire.BytesType), b)
	}
	return b
}

// TestAttachmentsWalkAgreesWithDecode runs, on every go test, a fixed
// series of mutations of every sample (FuzzAttachmentsWalk searches
// further when run with -fuzz).
func TestAttachmentsWalkAgreesWithDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	for _, s := range samples() {
		good, err := proto.Marshal(s.msg)
		if err != nil {
			t.Fatal(err)
		}
		agree(t, s.t, good)
		for range 3000 {
			b := good
			for range 1 + r.IntN(4) {
				b = mutate(r, b)
			}
			agree(t, s.t, b)
		}
	}
}

// TestWalkOtherKinds holds the walk to the decode on message types with
// field kinds no attachments type has yet (packed numbers, 32-bit fixed,
// oneofs, proto3 optional), so that one added to an entry is read right.
func TestWalkOtherKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 5))
	tx := &sanziv1.Transaction{Org: "350505100201", Summary: "柴油", Attachments: []string{hash, "aa"},
		Counterparty: &sanziv1.Counterparty{Name: "Xiamen Fuel Co."}}
	step := &sanziv1.StepDecision{ProcedureId: "p-1", Attachments: []string{hash}, StepOpenedAt: timestamppb.Now()}
	for _, m := range []proto.Message{
		&sanziv1.StatementRow{Code: "101", Label: "现金", AmountsFen: []int64{1, -2, 1 << 40}, Level: 2},
		wrapperspb.Float(1.5),
		// oneofs of messages that name attachments, and proto3 optional:
		// every member's value is checked whichever is set last
		&sanziv1.PreviewVoucherRequest{Record: &sanziv1.PreviewVoucherRequest_Transaction{Transaction: tx}},
		&sanziv1.TownDecision{Village: "350505100201", Decision: &sanziv1.TownDecision_Step{Step: step}},
		&sanziv1.MonthClose{Org: "350505100201", Month: "2026-03", BankStatementFen: proto.Int64(0)},
	} {
		good, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		// unpacked too: the decode takes a repeated number either way
		unpacked := protowire.AppendVarint(protowire.AppendTag(good, 3, protowire.VarintType), 7)
		agreeMessage(t, m, good)
		agreeMessage(t, m, unpacked)
		agreeMessage(t, m, cat(good, field(3, protowire.BytesType, protowire.AppendBytes(nil, []byte{0x80}))))
		for range 3000 {
			b := good
			for range 1 + r.IntN(4) {
				b = mutate(r, b)
			}
			agreeMessage(t, m, b)
		}
	}
}

// agreeMessage holds the walk of m's type to proto.Unmarshal on b, reading
// its first top-level string field (none: no names) as the one that
// names: the same error or none, the same names.
func agreeMessage(t *testing.T, m proto.Message, b []byte) {
	t.Helper()
	md := m.ProtoReflect().Descriptor()
	s, err := shapeOf(md, map[protoreflect.FullName]*shape{})
	if err != nil {
		t.Fatalf("%s: %v", md.FullName(), err)
	}
	var fd protoreflect.FieldDescriptor
	var want protowire.Number
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if f := fields.Get(i); f.Kind() == protoreflect.StringKind && f.ContainingOneof() == nil {
			fd, want = f, f.Number()
			break
		}
	}
	names, werr := s.walk(b, protowire.DefaultRecursionLimit, want, fd != nil && fd.IsList(), nil)
	d := m.ProtoReflect().Type().New()
	derr := proto.Unmarshal(b, d.Interface())
	if (werr == nil) != (derr == nil) {
		t.Fatalf("%s payload %x: walk error %v, decode error %v", md.FullName(), b, werr, derr)
	}
	if derr != nil || fd == nil {
		return
	}
	var got, dec []string
	for _, h := range names {
		got = append(got, string(h))
	}
	if fd.IsList() {
		for i, l := 0, d.Get(fd).List(); i < l.Len(); i++ {
			dec = append(dec, l.Get(i).String())
		}
	} else if v := d.Get(fd).String(); v != "" {
		dec = []string{v}
	}
	got = slices.DeleteFunc(got, func(h string) bool { return h == "" })
	dec = slices.DeleteFunc(dec, func(h string) bool { return h == "" })
	if !slices.Equal(got, dec) {
		t.Fatalf("%s payload %x: walk names %q, decode %q", md.FullName(), b, got, dec)
	}
}

// FuzzAttachmentsWalk: for any payload of any type that names
// attachments, the walk names what the full decode names and fails when
// it fails.
func FuzzAttachmentsWalk(f *testing.F) {
	ss := samples()
	for i, s := range ss {
		good, err := proto.Marshal(s.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), good)
		f.Add(uint8(i), append(slices.Clone(good), 0xc3, 0x28))
		f.Add(uint8(i), good[:len(good)/2])
	}
	f.Add(uint8(0), []byte(strings.Repeat("\x63", 20))) // start groups without end
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		agree(t, ss[int(typ)%len(ss)].t, payload)
	})
}

// fill sets every string and bytes field of m, at every depth (a message
// type inside itself once), to a value of its own, a repeated field to
// two, and each oneof to its member pick (modulo its members): what a
// list of names read from m can then come from only one field.
func fill(m protoreflect.Message, pick int, n *int, seen map[protoreflect.FullName]int) {
	md := m.Descriptor()
	if seen[md.FullName()] > 1 {
		return
	}
	seen[md.FullName()]++
	defer func() { seen[md.FullName()]-- }()
	val := func(fd protoreflect.FieldDescriptor) (protoreflect.Value, bool) {
		*n++
		switch fd.Kind() {
		case protoreflect.StringKind:
			return protoreflect.ValueOfString(fmt.Sprintf("%s#%d", fd.FullName(), *n)), true
		case protoreflect.BytesKind:
			return protoreflect.ValueOfBytes([]byte(fmt.Sprintf("%s#%d", fd.FullName(), *n))), true
		}
		return protoreflect.Value{}, false
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(pick%o.Fields().Len()) != fd {
			continue
		}
		switch {
		case fd.IsMap():
			continue
		case fd.IsList() && fd.Message() != nil:
			l := m.Mutable(fd).List()
			for range 2 {
				e := l.NewElement()
				fill(e.Message(), pick, n, seen)
				l.Append(e)
			}
		case fd.IsList():
			for range 2 {
				if v, ok := val(fd); ok {
					m.Mutable(fd).List().Append(v)
				}
			}
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), pick, n, seen)
		default:
			if v, ok := val(fd); ok {
				m.Set(fd, v)
			}
		}
	}
}

// TestAttachmentsOfReadsOnlyTheWalkedField: for every entry type, with
// every string field at every depth set (each oneof member in turn),
// AttachmentsOf lists exactly the values of the one top-level field the
// walk reads for the type (attachmentFields), and nothing for a type the
// walk reads none of. The walk reads no nested field, no oneof member and
// does not merge messages: AttachmentsOf reading another field (a town
// decision's step's attachments, inside a oneof, merged when repeated on
// the wire) must come with a walk that models it.
func TestAttachmentsOfReadsOnlyTheWalkedField(t *testing.T) {
	walked := map[sanziv1.EntryType]protoreflect.Name{}
	for _, a := range attachmentFields {
		walked[a.t] = a.field
	}
	for v := range sanziv1.EntryType_name {
		typ := sanziv1.EntryType(v)
		m, err := Decode(typ, nil)
		if err != nil || m == nil {
			continue
		}
		for pick := range 4 {
			m := m.ProtoReflect().Type().New()
			n := 0
			fill(m, pick, &n, map[protoreflect.FullName]int{})
			var want []string
			if name, ok := walked[typ]; ok {
				fd := m.Descriptor().Fields().ByName(name)
				if fd.IsList() {
					for i, l := 0, m.Get(fd).List(); i < l.Len(); i++ {
						want = append(want, l.Get(i).String())
					}
				} else {
					want = []string{m.Get(fd).String()}
				}
			}
			_, got := AttachmentsOf(m.Interface())
			if !slices.Equal(got, want) {
				t.Errorf("%s (oneof member %d): AttachmentsOf = %q, the walk reads %q", typ, pick, got, want)
			}
		}
	}
}

// TestWalkNestingLimit: a message type that holds itself (no attachments
// type does yet) nests as deep as proto.Unmarshal allows and no deeper:
// protowire.DefaultRecursionLimit messages, the outermost counted, and
// the innermost's strings still checked. The type is made at run time,
// so the decode judging is the reflective one, which counts depth as the
// generated types' does.
func TestWalkNestingLimit(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("walktest/node.proto"), Package: proto.String("walktest"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Node"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("child"), JsonName: proto.String("child"), Number: proto.Int32(1),
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".walktest.Node")},
				{Name: proto.String("name"), JsonName: proto.String("name"), Number: proto.Int32(2),
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	s, err := shapeOf(md, map[protoreflect.FullName]*shape{})
	if err != nil {
		t.Fatal(err)
	}
	// nest is n messages, each the child of the one outside it, the
	// innermost naming name.
	nest := func(n int, name string) []byte {
		b := field(2, protowire.BytesType, str(name))
		for range n - 1 {
			b = field(1, protowire.BytesType, protowire.AppendBytes(nil, b))
		}
		return b
	}
	limit := protowire.DefaultRecursionLimit
	for _, tc := range []struct {
		name    string
		payload []byte
		wantErr bool
	}{
		{"one below the limit", nest(limit-1, "x"), false},
		{"at the limit", nest(limit, "x"), false},
		{"past the limit", nest(limit+1, "x"), true},
		{"at the limit, the innermost not UTF-8", nest(limit, "\xc3\x28"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, werr := s.walk(tc.payload, limit, 2, false, nil)
			derr := proto.Unmarshal(tc.payload, dynamicpb.NewMessage(md))
			if (werr != nil) != tc.wantErr || (derr != nil) != tc.wantErr {
				t.Fatalf("walk error %v, decode error %v; want an error: %v", werr, derr, tc.wantErr)
			}
		})
	}
}
