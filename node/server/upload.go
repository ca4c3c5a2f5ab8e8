package server

import (
	"context"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/limits"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// uploadPath is the REST route of AttachmentService.UploadAttachment
// (proto/sanzi/v1/http.yaml), which the node serves itself instead of
// through the gateway: see uploadAttachment.
const uploadPath = "/v1/attachments"

// withUploads sends POST /v1/attachments to uploadAttachment, POST
// /v1/imports to importSheet, and every other request to the gateway. It
// sits behind rest.Guard, so each route's method, content type and size
// limit are checked as before, and its body is cut at its limit.
func (n *Node) withUploads(gw *runtime.ServeMux) http.Handler {
	upload := n.uploadAttachment(gw)
	sheet := n.importSheet(gw)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == uploadPath {
			upload(w, r)
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == importPath {
			sheet(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})
}

// uploadQuery fills an UploadAttachmentRequest from the query string,
// leaving out the field the body fills, as the generated gateway handler
// does.
var uploadQuery = utilities.NewDoubleArray([][]string{{"content"}})

// uploadAttachment is POST /v1/attachments streamed to disk: the gateway
// would read the whole body into one gRPC message (and copy it several
// times), so the route is served here, reading the body in pieces into the
// attachment store (api.Service.UploadAttachmentFrom). To the client it is
// the gateway's route: the same query parameters (fileName, contentType,
// expectedSha256), the same answer (UploadAttachmentResponse in the
// gateway's JSON) and the same errors through the gateway's error handler
// (rest.ErrorHandler). The call runs through the node's unary gRPC
// interceptors as UploadAttachment, with the request's headers as incoming
// metadata the way the gateway passes them, so what they check and count
// (metrics, and permissions once wired) applies to it as to a gRPC call.
func (n *Node) uploadAttachment(gw *runtime.ServeMux) http.HandlerFunc {
	const method = sanziv1.AttachmentService_UploadAttachment_FullMethodName
	info := &grpc.UnaryServerInfo{Server: n.api, FullMethod: method}
	return func(w http.ResponseWriter, r *http.Request) {
		req := &sanziv1.UploadAttachmentRequest{}
		ctx, out, ok := gatewayRequest(gw, w, r, method, uploadPath, req, uploadQuery)
		if !ok {
			return
		}
		handle := chainUnary(append([]grpc.UnaryServerInterceptor{limits.RecoverUnary(n.log)}, n.unary...), info, func(ctx context.Context, req any) (any, error) {
			return n.api.UploadAttachmentFrom(ctx, req.(*sanziv1.UploadAttachmentRequest), r.Body)
		})
		resp, err := handle(ctx, req)
		if err != nil {
			runtime.HTTPError(ctx, gw, out, w, r, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, gw, out, w, r, resp.(proto.Message))
	}
}

// gatewayRequest does for a route the node serves itself what the
// gateway does before calling a method: it picks the answer's marshaler,
// makes the incoming context with the caller's metadata (authorization,
// the session from the cookie) and fills req from the query, leaving out
// the field the body fills. On a failure it has answered and returns false.
func gatewayRequest(gw *runtime.ServeMux, w http.ResponseWriter, r *http.Request, method, pattern string, req proto.Message, query *utilities.DoubleArray) (context.Context, runtime.Marshaler, bool) {
	_, out := runtime.MarshalerForRequest(gw, r)
	ctx, err := runtime.AnnotateIncomingContext(r.Context(), gw, r, method, runtime.WithHTTPPathPattern(pattern))
	if err != nil {
		runtime.HTTPError(r.Context(), gw, out, w, r, err)
		return nil, nil, false
	}
	ctx = runtime.NewServerMetadataContext(ctx, runtime.ServerMetadata{})
	if err := r.ParseForm(); err != nil { // the query only: the guard let no form body through
		runtime.HTTPError(ctx, gw, out, w, r, status.Errorf(codes.InvalidArgument, "%v", err))
		return nil, nil, false
	}
	if err := runtime.PopulateQueryParameters(req, r.Form, query); err != nil {
		runtime.HTTPError(ctx, gw, out, w, r, status.Errorf(codes.InvalidArgument, "%v", err))
		return nil, nil, false
	}
	return ctx, out, true
}

// chainUnary wraps h in interceptors, the first outermost, as
// grpc.ChainUnaryInterceptor does on the server.
func chainUnary(interceptors []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) grpc.UnaryHandler {
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], h
		h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
	}
	return h
}
