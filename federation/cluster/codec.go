package cluster

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ServerCodec is the district's gRPC codec (the server option that sets it):
// protobuf, except that a push's entries alias one copy of the request
// instead of being copied one by one. Generated code copies every bytes
// element (it never aliases its input), so a push of 1,000 entries cost
// 1,000 allocations on the leader before anything was checked; here it
// costs one. Every other message goes through gRPC's own protobuf codec.
func ServerCodec() grpc.ServerOption {
	return grpc.ForceServerCodecV2(entriesCodec{encoding.GetCodecV2(grpcproto.Name)})
}

type entriesCodec struct{ encoding.CodecV2 }

// Unmarshal implements encoding.CodecV2. The copy the entries alias is
// the request's own (gRPC frees its buffers once Unmarshal returns); the
// fields are read as protobuf would: a repeated bytes field's occurrences
// in order, fields of other numbers or wire types skipped.
func (c entriesCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *sanziv1.PushEntriesRequest:
		m.Reset()
		return repeatedBytes(data.Materialize(), func(n protowire.Number, b []byte) {
			if n == 1 {
				m.Entries = append(m.Entries, b)
			}
		})
	case *sanziv1.SyncPushRequest:
		m.Reset()
		return repeatedBytes(data.Materialize(), func(n protowire.Number, b []byte) {
			switch n {
			case 1:
				m.Entries = append(m.Entries, b)
			case 2:
				m.Certificates = append(m.Certificates, b)
			}
		})
	}
	return c.CodecV2.Unmarshal(data, v)
}

// repeatedBytes hands fn each length-delimited field of msg, aliasing msg.
func repeatedBytes(msg []byte, fn func(n protowire.Number, b []byte)) error {
	err := ledger.WireFields(msg, func(n protowire.Number, typ protowire.Type, b []byte, _ uint64) {
		if typ == protowire.BytesType {
			fn(n, b[:len(b):len(b)]) // an append to one must not write into the next
		}
	})
	if err != nil {
		return fmt.Errorf("decode a push: %w", err)
	}
	return nil
}
