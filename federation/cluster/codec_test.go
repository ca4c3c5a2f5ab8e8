package cluster

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestServerCodecReadsPushesAsProtobuf: the codec that aliases a push's
// entries reads every request as protobuf does (same entries, in order,
// empty ones kept, other fields skipped, broken input refused), and an
// entry cannot grow into the next one.
func TestServerCodecReadsPushesAsProtobuf(t *testing.T) {
	c := entriesCodec{}
	var wire []byte
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("first"))
	wire = protowire.AppendTag(wire, 7, protowire.VarintType) // unknown field
	wire = protowire.AppendVarint(wire, 42)
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, nil)
	wire = protowire.AppendTag(wire, 2, protowire.BytesType) // a certificate in a sync push
	wire = protowire.AppendBytes(wire, []byte("cert"))
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("third"))
	for _, tc := range []struct {
		name string
		wire []byte
		bad  bool
	}{
		{"empty", nil, false},
		{"entries, an unknown field, an empty entry, a certificate", wire, false},
		{"truncated", wire[:len(wire)-2], true},
		{"field number zero", []byte{0x02, 0x00}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pair := range [][2]proto.Message{
				{&sanziv1.PushEntriesRequest{}, &sanziv1.PushEntriesRequest{}},
				{&sanziv1.SyncPushRequest{}, &sanziv1.SyncPushRequest{}},
			} {
				// Unknown fields are dropped (nothing reads them); otherwise
				// protobuf's reading is the reference.
				got, want := pair[0], pair[1]
				err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(tc.wire)}, got)
				werr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(tc.wire, want)
				if (err != nil) != tc.bad || (werr != nil) != tc.bad {
					t.Fatalf("%T: codec error %v, protobuf error %v; want failure %v", got, err, werr, tc.bad)
				}
				if tc.bad {
					continue
				}
				if !proto.Equal(got, want) {
					t.Fatalf("%T: codec read %v, protobuf %v", got, got, want)
				}
			}
		})
	}
	var r sanziv1.PushEntriesRequest
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &r); err != nil {
		t.Fatal(err)
	}
	_ = append(r.Entries[0], 'X')
	if string(r.Entries[1]) != "" || string(r.Entries[2]) != "third" {
		t.Fatalf("appending to one entry changed the others: %q", r.Entries)
	}
}

// TestEncodeAppendIsProtobuf: the one-buffer encoding of an APPEND command
// is byte for byte what marshalling the batch and then the envelope gives.
func TestEncodeAppendIsProtobuf(t *testing.T) {
	for _, entries := range [][][]byte{nil, {{}}, {[]byte("a"), make([]byte, 300), make([]byte, 70_000)}} {
		payload, err := proto.Marshal(&clusterv1.AppendBatch{Entries: entries})
		if err != nil {
			t.Fatal(err)
		}
		want, err := proto.Marshal(&clusterv1.Command{Type: clusterv1.CommandType_COMMAND_TYPE_APPEND, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeAppend(entries); !bytes.Equal(got, want) || len(got) != cap(got) {
			t.Fatalf("%d entries: encoded %d bytes (cap %d), protobuf %d", len(entries), len(got), cap(got), len(want))
		}
	}
}
