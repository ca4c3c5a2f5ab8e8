package relay

import (
	"compress/gzip"

	grpcgzip "google.golang.org/grpc/encoding/gzip"
)

// Batches of entries travel gzip-compressed (the outbox pushes and pulls
// with grpc.UseCompressor("gzip")). At gzip's default level compressing
// them was 15–20 % of a town's CPU while it forwarded its villages' entries
// to the district (issue 17); BestSpeed costs a few bytes more per entry
// (TestSyncTwoTownsSixVillages reports them) and still leaves entries a
// fraction of their size on the slow links villages have. The level is the
// sender's alone: any gzip reader reads it, so nodes of older versions
// take these batches as before.
//
// grpc keeps one gzip compressor per process and lets its level be set
// only while the program initialises, hence init. Every binary that links
// this package compresses its gRPC messages at this level.
func init() {
	if err := grpcgzip.SetLevel(gzip.BestSpeed); err != nil {
		panic(err) // a constant level: it cannot be out of range
	}
}
