// Package limits holds the bounds every Sanzi server and client puts on what
// it takes in, in one place: the largest gRPC message, how many long-lived
// streams a node keeps open, and the gRPC connection rules (concurrent
// streams, keepalive) that stop idle or abusive peers from holding resources.
package limits

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// MaxMessageSize is the largest gRPC message any Sanzi server or client
// sends or takes (64 MiB): a sync batch with its attachments, or an
// attachment at the largest configurable limit with its envelope. gRPC's own
// default (4 MiB) is below one 16 MiB attachment.
const MaxMessageSize = 64 << 20

// CallOptions lets a client connection send and receive messages up to
// MaxMessageSize.
func CallOptions() grpc.DialOption {
	return grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize))
}

// DefaultMaxConcurrentStreams bounds the RPCs in flight on one client
// connection; further calls wait on the client side for a free stream
// instead of piling goroutines up on the server.
const DefaultMaxConcurrentStreams = 128

// Keepalive rules. A client may ping at most every 10 s (more often is
// abuse and gets the connection closed with "too_many_pings"), even with no
// RPC open, since sync links stay connected between polls. The server pings
// a connection quiet for a minute and drops it when no answer comes within
// 20 s, so a vanished client (a village PC switched off) does not keep its
// alert stream and its slot; a connection with no RPC for 10 minutes is
// closed (clients reconnect on their own).
const (
	keepaliveMinTime  = 10 * time.Second
	keepaliveTime     = time.Minute
	keepaliveTimeout  = 20 * time.Second
	maxConnectionIdle = 10 * time.Minute
)

// ServerOptions are the connection rules of a gRPC server: at most
// maxStreams concurrent RPCs per connection (<= 0 means
// DefaultMaxConcurrentStreams), keepalive enforcement, and a panic in a
// handler failing its call only (logged on log), as the outermost
// interceptor. Message size limits stay with the caller, which knows what
// its API carries.
func ServerOptions(maxStreams int, log *slog.Logger) []grpc.ServerOption {
	if maxStreams <= 0 {
		maxStreams = DefaultMaxConcurrentStreams
	}
	return append(recovery(log),
		grpc.MaxConcurrentStreams(uint32(maxStreams)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout, MaxConnectionIdle: maxConnectionIdle}),
	)
}
