package entries

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Every district member lists the attachments of every entry it applies,
// and a member's state must not depend on how it reads them: what names an
// attachment is decided by proto.Unmarshal, which refuses a payload with
// invalid UTF-8 in any string field, a truncated field or a bad tag, at any
// depth. Decoding every payload whole to read one field cost each member
// about 1.3 µs and 10 allocations per entry (issue 17). The walk below
// reads the named field straight from the wire and checks everything else
// proto.Unmarshal checks, with the same rules, so it accepts exactly the
// payloads the decode accepts (FuzzAttachmentsWalk holds it to that):
//
//   - each tag is a varint whose field number is 1 to 2^29-1; an end-group
//     tag outside a group is an error;
//   - a field the message declares, with the wire type its kind has, is
//     read as that kind: a varint, 4 or 8 bytes, or a length-delimited
//     value (a proto3 string must be valid UTF-8, a message is walked in
//     turn, at most protowire.DefaultRecursionLimit deep); a repeated
//     number also as a packed run, which must hold whole values;
//   - any other field (unknown, or with another wire type) is skipped with
//     protowire.ConsumeFieldValue, as the decode keeps it as unknown.
//
// A message type the walk does not model (not proto3, a map, a group, an
// extension range, a lazy field) has no shape and is decoded whole instead.

// shape is what the walk knows of a message type.
type shape struct {
	// fields by number: dense up to the highest declared (messages number
	// their fields from 1 with few gaps), nil where none is declared.
	fields []*fieldShape
}

// field is the declared field num, nil if none.
func (s *shape) field(num protowire.Number) *fieldShape {
	if int(num) < len(s.fields) {
		return s.fields[num]
	}
	return nil
}

// fieldShape is one declared field.
type fieldShape struct {
	wire   protowire.Type // the wire type of one value
	packed bool           // a repeated number: also read as a packed run
	utf8   bool           // a proto3 string
	msg    *shape         // a message's own shape
}

// named is where an entry type's attachments are: the shape of its payload
// and the field that names them.
type named struct {
	shape *shape
	field protowire.Number
	// repeated: every value names one; else the last value is the one.
	repeated bool
}

// attachmentFields are the fields that name attachments, by entry type:
// the same ones AttachmentsOf reads from a decoded message.
var attachmentFields = []struct {
	t     sanziv1.EntryType
	msg   protoreflect.ProtoMessage
	field protoreflect.Name
}{
	{sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.Transaction{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_CONTRACT, &sanziv1.Contract{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, &sanziv1.ContractPayment{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, &sanziv1.AssetRegistration{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, &sanziv1.AssetDisposal{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, &sanziv1.AssetAppraisal{}, "report_attachment"},
	{sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{}, "attachments"},
	{sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, &sanziv1.Complaint{}, "photos"},
	{sanziv1.EntryType_ENTRY_TYPE_VOUCHER, &sanziv1.Voucher{}, "attachments"},
}

// walks holds each entry type's walk, built once from the descriptors and
// only read after: the same for every caller, so not state to inject. A
// type without one (a nil shape: it has what the walk does not model) is
// decoded whole.
var walks = sync.OnceValue(func() []named {
	top := sanziv1.EntryType(0)
	for _, a := range attachmentFields {
		top = max(top, a.t)
	}
	out := make([]named, top+1) // by type: a slice, as a map lookup cost a sixth of a walk
	for _, a := range attachmentFields {
		// A memo of its own per type: a failed build leaves shapes that
		// point at unfinished ones, which another type must not reuse.
		md := a.msg.ProtoReflect().Descriptor()
		s, err := shapeOf(md, map[protoreflect.FullName]*shape{})
		fd := md.Fields().ByName(a.field)
		if err != nil || fd == nil || fd.Kind() != protoreflect.StringKind || fd.ContainingOneof() != nil {
			continue
		}
		out[a.t] = named{shape: s, field: fd.Number(), repeated: fd.IsList()}
	}
	return out
})

// walkOf is t's walk, ok false when it has none.
func walkOf(t sanziv1.EntryType) (named, bool) {
	if w := walks(); t >= 0 && int(t) < len(w) && w[t].shape != nil {
		return w[t], true
	}
	return named{}, false
}

// errNoShape: the message type has something the walk does not model.
var errNoShape = errors.New("entries: no walk for this message type")

// shapeOf builds md's shape; memo holds those built or being built, so a
// message type that holds itself has one shape. A failure anywhere below
// fails the whole build, and its memo is then thrown away.
func shapeOf(md protoreflect.MessageDescriptor, memo map[protoreflect.FullName]*shape) (*shape, error) {
	if s, ok := memo[md.FullName()]; ok {
		if s == nil {
			return nil, errNoShape
		}
		return s, nil
	}
	if md.Syntax() != protoreflect.Proto3 || md.ExtensionRanges().Len() > 0 || md.IsMapEntry() {
		memo[md.FullName()] = nil
		return nil, errNoShape
	}
	s := &shape{}
	memo[md.FullName()] = s
	fields := md.Fields()
	top := protowire.Number(0)
	for i := 0; i < fields.Len(); i++ {
		top = max(top, fields.Get(i).Number())
	}
	if top > 1024 { // sparse numbering: not worth a table
		memo[md.FullName()] = nil
		return nil, errNoShape
	}
	s.fields = make([]*fieldShape, top+1)
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o, ok := fd.Options().(*descriptorpb.FieldOptions); ok && (o.GetLazy() || o.GetUnverifiedLazy()) {
			memo[md.FullName()] = nil
			return nil, errNoShape
		}
		f := &fieldShape{}
		switch fd.Kind() {
		case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind,
			protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			f.wire, f.packed = protowire.VarintType, fd.IsList()
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			f.wire, f.packed = protowire.Fixed32Type, fd.IsList()
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			f.wire, f.packed = protowire.Fixed64Type, fd.IsList()
		case protoreflect.StringKind:
			f.wire, f.utf8 = protowire.BytesType, true // proto3: checked
		case protoreflect.BytesKind:
			f.wire = protowire.BytesType
		case protoreflect.MessageKind:
			if fd.IsMap() {
				memo[md.FullName()] = nil
				return nil, errNoShape
			}
			m, err := shapeOf(fd.Message(), memo)
			if err != nil {
				memo[md.FullName()] = nil
				return nil, err
			}
			f.wire, f.msg = protowire.BytesType, m
		default: // a group
			memo[md.FullName()] = nil
			return nil, errNoShape
		}
		s.fields[fd.Number()] = f
	}
	return s, nil
}

// walk checks b as proto.Unmarshal would decode it into a message of shape
// s, depth levels of messages allowed below, and returns names with the
// values of field want (at the top level only) appended, slices of b. A
// singular want keeps only its last value, as the decode does.
func (s *shape) walk(b []byte, depth int, want protowire.Number, repeated bool, names [][]byte) ([][]byte, error) {
	if depth--; depth < 0 {
		return nil, errors.New("exceeds the maximum nesting depth")
	}
	base := len(names)
	for len(b) > 0 {
		var tag uint64
		var n int
		if b[0] < 0x80 { // the usual one-byte tag, read inline
			tag, n = uint64(b[0]), 1
		} else if tag, n = protowire.ConsumeVarint(b); n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
			return nil, fmt.Errorf("invalid field number %d", tag>>3)
		}
		if typ == protowire.EndGroupType {
			return nil, errors.New("unexpected end group")
		}
		f := s.field(num)
		switch {
		case f == nil || typ != f.wire && !(f.packed && typ == protowire.BytesType):
			n = protowire.ConsumeFieldValue(num, typ, b) // unknown to the decode too
		case typ == protowire.VarintType:
			_, n = protowire.ConsumeVarint(b)
		case typ == protowire.Fixed32Type:
			_, n = protowire.ConsumeFixed32(b)
		case typ == protowire.Fixed64Type:
			_, n = protowire.ConsumeFixed64(b)
		default: // length-delimited
			var v []byte
			if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) { // a short value, read inline
				v, n = b[1:1+b[0]], 1+int(b[0])
			} else if v, n = protowire.ConsumeBytes(b); n < 0 {
				break
			}
			var err error
			switch {
			case f.packed:
				err = packed(v, f.wire)
			case f.msg != nil:
				_, err = f.msg.walk(v, depth, 0, false, nil)
			case f.utf8 && !utf8.Valid(v):
				err = fmt.Errorf("field %d: invalid UTF-8", num)
			case num == want && repeated:
				names = append(names, v)
			case num == want:
				names = append(names[:base], v)
			}
			if err != nil {
				return nil, err
			}
		}
		if n < 0 {
			return nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return names, nil
}

// packed checks v is a whole run of values of wire type typ.
func packed(v []byte, typ protowire.Type) error {
	for len(v) > 0 {
		var n int
		switch typ {
		case protowire.VarintType:
			_, n = protowire.ConsumeVarint(v)
		case protowire.Fixed32Type:
			_, n = protowire.ConsumeFixed32(v)
		default:
			_, n = protowire.ConsumeFixed64(v)
		}
		if n < 0 {
			return fmt.Errorf("packed run: %w", protowire.ParseError(n))
		}
		v = v[n:]
	}
	return nil
}
