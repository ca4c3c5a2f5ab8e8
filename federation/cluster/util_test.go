package cluster_test

import (
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func protoUnmarshal(b []byte, e *sanziv1.Entry) error { return proto.Unmarshal(b, e) }
