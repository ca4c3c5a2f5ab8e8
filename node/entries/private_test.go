package entries

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestSame: equal bytes are the same payload without a second decoding,
// other encodings of the same message are compared decoded, and a type
// this node does not know is refused whatever the bytes.
func TestSame(t *testing.T) {
	tx := &sanziv1.Transaction{Org: "350505100201", AmountFen: 1001, Summary: "材料费"}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	// The same fields in reverse order: another encoding of tx.
	var reordered []byte
	for rest := enc; len(rest) > 0; {
		_, _, n := protowire.ConsumeField(rest)
		reordered = append(append([]byte{}, rest[:n]...), reordered...)
		rest = rest[n:]
	}
	other, _ := proto.Marshal(&sanziv1.Transaction{Org: "350505100201", AmountFen: 1002, Summary: "材料费"})
	unknown := sanziv1.EntryType(9999)
	for _, c := range []struct {
		name    string
		t       sanziv1.EntryType
		a, b    []byte
		want    bool
		wantErr bool
	}{
		{"equal bytes", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, enc, true, false},
		{"another encoding", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, reordered, true, false},
		{"another message", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, other, false, false},
		{"undecodable, equal bytes", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, []byte{0xff}, []byte{0xff}, false, true},
		{"unknown type, equal bytes", unknown, enc, enc, false, true},
	} {
		got, err := Masker{}.Same(c.t, c.a, c.b)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s: Same = %v, %v; want %v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}
