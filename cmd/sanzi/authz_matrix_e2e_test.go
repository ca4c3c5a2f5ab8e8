package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sanzi/sanzi/node/authz"
	_ "github.com/sanzi/sanzi/proto/gen/sanzi/v1" // registers the services' descriptors
)

// The authorization matrix of issue 12, generated from the permission table
// (authz.Methods) and run against the real binary: a village node and a
// town node, each with one account per role (authz.Roles) at the node's own
// org. For every method a node serves, over gRPC and, where it has a REST
// route in the node's /openapi.json, over REST:
//
//   - without a credential: 401 / Unauthenticated;
//   - for each role lacking the method's permission: 403 / PermissionDenied,
//     whose message gives the reason ("role X may not <perm>");
//   - for each role holding it: anything but 401 and 403. The requests are
//     empty or carry placeholders (id "x"), so an admitted call is often
//     refused by its handler (400 InvalidArgument, 404 NotFound): that
//     counts as "passed authorization", not as the business call succeeding;
//   - for each role holding it, the same request naming an org outside the
//     account's scope (another village for the village node, a village of
//     another town for the town node): 403 "may not act on".
//
// Public methods (Login, ChangePassword) are shown working without a
// credential, over both transports, with real passwords (a wrong one would
// feed the sign-in throttle). Methods a node does not serve on its people's
// port (node-only sync and district methods, the district's analytics)
// answer gRPC Unimplemented whatever the credential and have no REST route;
// they are counted as "not served" and checked to stay so with the
// administrator's token.

const (
	mxVillageOrg = "350505100201"
	mxTownOrg    = "350505100000"
)

// mxNode is a village or town node these tests run as a child process.
type mxNode struct {
	kind, org  string
	http, grpc string
	cmd        *exec.Cmd
	log        *bytes.Buffer
	conn       *grpc.ClientConn
}

// mxPort is a free loopback port (bound and released; the node binds it
// right after).
func mxPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// mxRun runs the CLI and fails the test when it exits non-zero.
func mxRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(sanziBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sanzi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mxAdminFile writes the first administrator's password to a 0600 file.
func mxAdminFile(t testing.TB, dir string) (path, pw string) {
	t.Helper()
	pw = "mx-first-admin-password"
	path = filepath.Join(dir, "admin-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, pw
}

// mxStart starts `sanzi <kind> serve` for org and waits for /healthz.
func mxStart(t *testing.T, kind, org, data, adminFile string, extra ...string) *mxNode {
	t.Helper()
	n := &mxNode{kind: kind, org: org, http: mxPort(t), grpc: mxPort(t), log: &bytes.Buffer{}}
	args := append([]string{kind, "serve", "--data", data, "--org", org, "--http-addr", n.http, "--grpc-addr", n.grpc,
		"--admin-password-file", adminFile, "--log-level", "error"}, extra...)
	n.cmd = exec.Command(sanziBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		n.cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + n.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s node did not come up: %v\n%s", kind, err, n.log)
		}
		time.Sleep(20 * time.Millisecond) // polling for the port
	}
	conn, err := grpc.NewClient(n.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n.conn = conn
	return n
}

// mxREST sends one REST request; token, when set, goes as a bearer token.
func (n *mxNode) mxREST(t testing.TB, method, path, token, ctype string, body []byte, hdr http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.http+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// mxPostJSON posts v as JSON and decodes a 200 answer into out.
func (n *mxNode) mxPostJSON(t testing.TB, path, token string, v, out any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	code, _, raw := n.mxREST(t, http.MethodPost, path, token, "application/json", b, nil)
	if out != nil && code == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("decode %s: %v: %s", path, err, raw)
		}
	}
	return code, raw
}

// mxLogin signs in over REST for a bearer token (newPassword replaces a
// first password).
func (n *mxNode) mxLogin(t testing.TB, account, password, newPassword string) string {
	t.Helper()
	var in struct {
		Secret string `json:"secret"`
	}
	req := map[string]string{"account": account, "password": password}
	if newPassword != "" {
		req["newPassword"] = newPassword
	}
	if code, raw := n.mxPostJSON(t, "/v1/login", "", req, &in); code != http.StatusOK || in.Secret == "" {
		t.Fatalf("sign in %s at the %s node: %d %s", account, n.kind, code, raw)
	}
	return in.Secret
}

// mxPassword is the password mxAccount leaves account id with.
func mxPassword(id string) string { return "mx-password-of-" + id }

// mxAccount creates account id at org with roles (as the administrator
// adminTok signs in for) and signs it in, replacing its first password;
// it returns a bearer token.
func (n *mxNode) mxAccount(t *testing.T, adminTok, id, org string, roles ...authz.Role) string {
	t.Helper()
	acct := map[string]any{"account": id, "name": id, "org": org, "roles": roles}
	if code, raw := n.mxPostJSON(t, "/v1/accounts", adminTok, map[string]any{"account": acct, "password": "mx-first-" + id}, nil); code != http.StatusOK {
		t.Fatalf("create account %s at the %s node: %d %s", id, n.kind, code, raw)
	}
	return n.mxLogin(t, id, "mx-first-"+id, mxPassword(id))
}

// mxAdmin signs the first administrator in, changing its password.
func (n *mxNode) mxAdmin(t *testing.T, firstPW string) string {
	t.Helper()
	return n.mxLogin(t, "admin", firstPW, "mx-admin-password-2")
}

// mxOutcome is what a call came to, as far as authorization goes.
type mxOutcome string

const (
	mxUnauth    mxOutcome = "401 unauthenticated"
	mxDenied    mxOutcome = "403 role lacks permission"
	mxOrgDenied mxOutcome = "403 org out of scope"
	mxAdmitted  mxOutcome = "passed authorization"
	mxNotServed mxOutcome = "not served"
)

// mxTally counts the matrix's cases by node, transport and outcome.
type mxTally map[string]int

func (x mxTally) add(node, transport string, o mxOutcome) { x[node+" "+transport+" "+string(o)]++ }

// mxMethod is a method of the permission table with its descriptor.
type mxMethod struct {
	full string // "/sanzi.v1.X/Y"
	perm authz.Permission
	desc protoreflect.MethodDescriptor
}

// mxMethods is the permission table with each method's descriptor, sorted.
func mxMethods(t *testing.T) []mxMethod {
	t.Helper()
	var out []mxMethod
	for full, perm := range authz.Methods() {
		svc, name, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
		if !ok {
			t.Fatalf("method %q is not /service/method", full)
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatalf("service of %s: %v", full, err)
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
		if md == nil {
			t.Fatalf("no method %s in %s", name, svc)
		}
		out = append(out, mxMethod{full: full, perm: perm, desc: md})
	}
	slices.SortFunc(out, func(a, b mxMethod) int { return strings.Compare(a.full, b.full) })
	return out
}

// mxGRPC calls m on n with req (nil: an empty request) and token (empty:
// none), unary or streaming as the method is. A server stream whose
// headers arrive has passed the interceptor (the handler sends them); it is
// closed there and answers nil.
func (n *mxNode) mxGRPC(m mxMethod, token string, req proto.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	if req == nil {
		req = dynamicpb.NewMessage(m.desc.Input())
	}
	resp := dynamicpb.NewMessage(m.desc.Output())
	if !m.desc.IsStreamingClient() && !m.desc.IsStreamingServer() {
		return n.conn.Invoke(ctx, m.full, req, resp)
	}
	st, err := n.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.desc.IsStreamingServer(), ClientStreams: m.desc.IsStreamingClient()}, m.full)
	if err != nil {
		return err
	}
	if err := st.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	if m.desc.IsStreamingServer() {
		md, err := st.Header()
		if err != nil {
			return err
		}
		if md != nil {
			return nil
		}
	}
	if err := st.RecvMsg(resp); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// mxRoute is a REST route of the node's /openapi.json.
type mxRoute struct {
	method, path string
	rawBody      bool // the body is the raw content (uploads), not JSON
}

// mxRoutes reads the node's own OpenAPI document: operationId
// "Service_Method" → route. Every route must be in the permission table.
func (n *mxNode) mxRoutes(t *testing.T, table map[string]authz.Permission) map[string]mxRoute {
	t.Helper()
	code, _, raw := n.mxREST(t, http.MethodGet, "/openapi.json", "", "", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", code, raw)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]mxRoute{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			svc, name, _ := strings.Cut(op.OperationID, "_")
			full := "/sanzi.v1." + svc + "/" + name
			if _, ok := table[full]; !ok {
				t.Errorf("%s node: REST %s %s (%s) is not in the permission table", n.kind, strings.ToUpper(method), path, full)
			}
			rt := mxRoute{method: strings.ToUpper(method), path: path}
			for _, p := range op.Parameters {
				if p.In == "body" && p.Name != "body" {
					rt.rawBody = true
				}
			}
			out[full] = rt
		}
	}
	return out
}

// mxOrgField finds the field a request names its org by, by
// authz.RequestOrgs' rule: a top-level string org or origin, the same one
// level down in a singular message field, or parent in a field named scope.
// It returns the path of field descriptors, nil when the request has none.
func mxOrgField(md protoreflect.MessageDescriptor) []protoreflect.FieldDescriptor {
	isOrg := func(f protoreflect.FieldDescriptor, scope bool) bool {
		if f.Kind() != protoreflect.StringKind || f.Cardinality() == protoreflect.Repeated {
			return false
		}
		return f.Name() == "org" || f.Name() == "origin" || (scope && f.Name() == "parent")
	}
	fields := md.Fields()
	for i := range fields.Len() {
		if f := fields.Get(i); isOrg(f, false) {
			return []protoreflect.FieldDescriptor{f}
		}
	}
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.Cardinality() == protoreflect.Repeated {
			continue
		}
		sub := f.Message().Fields()
		for j := range sub.Len() {
			if g := sub.Get(j); isOrg(g, f.Name() == "scope") {
				return []protoreflect.FieldDescriptor{f, g}
			}
		}
	}
	return nil
}

// mxWithOrg is an otherwise empty request naming org in field path.
func mxWithOrg(md protoreflect.MessageDescriptor, path []protoreflect.FieldDescriptor, org string) *dynamicpb.Message {
	m := dynamicpb.NewMessage(md)
	var r protoreflect.Message = m
	for _, f := range path[:len(path)-1] {
		r = r.Mutable(f).Message()
	}
	r.Set(path[len(path)-1], protoreflect.ValueOfString(org))
	return m
}

// mxRESTCall turns a request into a REST call of rt: path parameters
// filled from the request (an org parameter with the node's org when the
// request names none, any other with "x"), the rest as the JSON body of a
// POST, or as query parameters of a GET or DELETE.
func (n *mxNode) mxRESTCall(t *testing.T, rt mxRoute, req *dynamicpb.Message, token string) (int, []byte) {
	t.Helper()
	path := rt.path
	for {
		i := strings.Index(path, "{")
		if i < 0 {
			break
		}
		j := strings.Index(path[i:], "}") + i
		name := path[i+1 : j]
		val := "x"
		if v := mxGet(req, name); v != "" {
			val = v
		} else if last := name[strings.LastIndex(name, ".")+1:]; last == "org" || last == "origin" {
			val = n.org
		}
		path = path[:i] + url.PathEscape(val) + path[j+1:]
	}
	raw, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case rt.rawBody:
		// The body is the content; the request's other fields are the
		// query's, as the gateway reads them.
		q := url.Values{}
		mxQuery(req, "", q)
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		code, _, body := n.mxREST(t, rt.method, path, token, "application/octet-stream", []byte("x"), nil)
		return code, body
	case rt.method == http.MethodPost || rt.method == http.MethodPut || rt.method == http.MethodPatch:
		code, _, body := n.mxREST(t, rt.method, path, token, "application/json", raw, nil)
		return code, body
	}
	q := url.Values{}
	mxQuery(req, "", q)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	code, _, body := n.mxREST(t, rt.method, path, token, "", nil, nil)
	return code, body
}

// mxGet is the string at a dotted JSON or proto field path of m, "" when unset.
func mxGet(m protoreflect.Message, dotted string) string {
	parts := strings.Split(dotted, ".")
	for i, p := range parts {
		f := m.Descriptor().Fields().ByJSONName(p)
		if f == nil {
			f = m.Descriptor().Fields().ByName(protoreflect.Name(p))
		}
		if f == nil || !m.Has(f) {
			return ""
		}
		if i == len(parts)-1 {
			if f.Kind() != protoreflect.StringKind {
				return ""
			}
			return m.Get(f).String()
		}
		if f.Kind() != protoreflect.MessageKind {
			return ""
		}
		m = m.Get(f).Message()
	}
	return ""
}

// mxQuery adds m's set string fields as dotted query parameters.
func mxQuery(m protoreflect.Message, prefix string, q url.Values) {
	m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case f.Kind() == protoreflect.StringKind && f.Cardinality() != protoreflect.Repeated:
			q.Set(prefix+f.JSONName(), v.String())
		case f.Kind() == protoreflect.MessageKind && f.Cardinality() != protoreflect.Repeated && !f.IsMap():
			mxQuery(v.Message(), prefix+f.JSONName()+".", q)
		}
		return true
	})
}

// mxGRPCOutcome classifies a gRPC answer.
func mxGRPCOutcome(err error) (mxOutcome, string) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unauthenticated:
		return mxUnauth, st.Message()
	case codes.PermissionDenied:
		if strings.Contains(st.Message(), "may not act on") {
			return mxOrgDenied, st.Message()
		}
		return mxDenied, st.Message()
	}
	return mxAdmitted, st.Code().String() + " " + st.Message()
}

// mxRESTOutcome classifies a REST answer.
func mxRESTOutcome(code int, body []byte) (mxOutcome, string) {
	msg := fmt.Sprintf("%d %s", code, bytes.TrimSpace(body))
	switch code {
	case http.StatusUnauthorized:
		return mxUnauth, msg
	case http.StatusForbidden:
		if bytes.Contains(body, []byte("may not act on")) {
			return mxOrgDenied, msg
		}
		return mxDenied, msg
	}
	return mxAdmitted, msg
}

// mxReason is the text a refusal for lacking perm must carry.
func mxReason(perm authz.Permission) string { return "may not " + string(perm) }

// mxExpect checks one case and counts it.
func mxExpect(t *testing.T, tally mxTally, n *mxNode, transport, who string, m mxMethod, want mxOutcome, reason string, got mxOutcome, detail string) {
	t.Helper()
	ok := got == want
	if ok && reason != "" && !strings.Contains(detail, reason) {
		ok = false
	}
	if !ok {
		t.Errorf("%s node, %s %s as %s: got %s (%s), want %s %q", n.kind, transport, m.full, who, got, detail, want, reason)
		return
	}
	tally.add(n.kind, transport, want)
}

func TestMxAuthzMatrix(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mxRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	mxRun(t, "ca", "issue", "--dir", caDir, "--org", mxTownOrg, "--role", "town")
	adminFile, adminPW := mxAdminFile(t, dir)
	nodes := []struct {
		n       *mxNode
		foreign string // an org outside the node's accounts' scope
	}{
		{mxStart(t, "village", mxVillageOrg, filepath.Join(dir, "village"), adminFile), "350505100202"},
		{mxStart(t, "town", mxTownOrg, filepath.Join(dir, "town"), adminFile,
			"--sync-addr", mxPort(t), "--tls-dir", caDir), "350505200201"},
	}
	methods := mxMethods(t)
	table := authz.Methods()
	roles := authz.Roles()
	tally := mxTally{}
	cases := 0
	for _, nd := range nodes {
		n := nd.n
		adminTok := n.mxAdmin(t, adminPW)
		tokens := map[authz.Role]string{}
		for _, r := range roles {
			tokens[r] = n.mxAccount(t, adminTok, "mx-"+strings.ReplaceAll(string(r), "_", "-"), n.org, r)
		}
		// The spare tokens Logout ends, one per role and transport.
		spare := map[string]string{}
		for _, r := range roles {
			id := "mx-" + strings.ReplaceAll(string(r), "_", "-")
			for _, tr := range []string{"grpc", "rest"} {
				spare[string(r)+tr] = n.mxLogin(t, id, mxPassword(id), "")
			}
		}
		routes := n.mxRoutes(t, table)
		for _, m := range methods {
			rt, onREST := routes[m.full]
			if m.perm == authz.Public {
				continue // below, with real passwords
			}
			// Served? A service the node does not register answers
			// Unimplemented before any interceptor runs.
			err := n.mxGRPC(m, "", nil)
			if status.Code(err) == codes.Unimplemented {
				if onREST {
					t.Errorf("%s node: %s has a REST route but no gRPC service", n.kind, m.full)
				}
				if err := n.mxGRPC(m, adminTok, nil); status.Code(err) != codes.Unimplemented {
					t.Errorf("%s node: %s unserved without a credential, but with the administrator's: %v", n.kind, m.full, err)
				}
				tally.add(n.kind, "grpc", mxNotServed)
				cases++
				continue
			}
			got, detail := mxGRPCOutcome(err)
			mxExpect(t, tally, n, "grpc", "nobody", m, mxUnauth, "", got, detail)
			cases++
			if onREST {
				got, detail := mxRESTOutcome(n.mxRESTCall(t, rt, dynamicpb.NewMessage(m.desc.Input()), ""))
				mxExpect(t, tally, n, "rest", "nobody", m, mxUnauth, "", got, detail)
				cases++
			}
			orgPath := mxOrgField(m.desc.Input())
			for _, r := range roles {
				tok := tokens[r]
				want, reason := mxAdmitted, ""
				switch {
				case m.perm == authz.NodeOnly:
					want, reason = mxUnauth, "for nodes"
				case m.perm == authz.SignedIn || r.May(m.perm):
				default:
					want, reason = mxDenied, mxReason(m.perm)
				}
				for _, tr := range []string{"grpc", "rest"} {
					if tr == "rest" && !onREST {
						continue
					}
					if m.full == "/sanzi.v1.AccountService/Logout" {
						tok = spare[string(r)+tr]
					}
					var got mxOutcome
					var detail string
					if tr == "grpc" {
						got, detail = mxGRPCOutcome(n.mxGRPC(m, tok, nil))
					} else {
						got, detail = mxRESTOutcome(n.mxRESTCall(t, rt, dynamicpb.NewMessage(m.desc.Input()), tok))
					}
					mxExpect(t, tally, n, tr, string(r), m, want, reason, got, detail)
					cases++
					// The org check: a role admitted to the method, naming
					// an org beyond its scope.
					if want != mxAdmitted || orgPath == nil || m.perm == authz.SignedIn {
						continue
					}
					req := mxWithOrg(m.desc.Input(), orgPath, nd.foreign)
					if tr == "grpc" {
						got, detail = mxGRPCOutcome(n.mxGRPC(m, tok, req))
					} else {
						got, detail = mxRESTOutcome(n.mxRESTCall(t, rt, req, tok))
					}
					mxExpect(t, tally, n, tr, string(r)+" naming "+nd.foreign, m, mxOrgDenied, "may not act on "+nd.foreign, got, detail)
					cases++
				}
			}
		}
		cases += mxPublic(t, tally, n, adminTok, methods)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range tally {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		t.Logf("matrix %-45s %4d", k, tally[k])
	}
	served, rest := 0, 0
	for _, m := range methods {
		if _, ok := nodes[0].n.mxRoutes(t, table)[m.full]; ok {
			rest++
		}
	}
	served = len(methods) - tally["village grpc "+string(mxNotServed)]
	t.Logf("matrix: %d methods in the permission table (%d served on a village's and a town's people's port, %d of them on REST) × %d roles, "+
		"+ no credential, + an org out of scope for each role admitted; × gRPC and REST × 2 nodes: %d cases in %s",
		len(methods), served, rest, len(roles), cases, time.Since(start).Round(time.Millisecond))
}

// mxPublic shows the Public methods (Login, ChangePassword) working without
// a credential over both transports; it returns the number of cases.
func mxPublic(t *testing.T, tally mxTally, n *mxNode, adminTok string, methods []mxMethod) int {
	t.Helper()
	cases := 0
	for _, m := range methods {
		if m.perm != authz.Public {
			continue
		}
		id := "mx-public-" + strings.ToLower(string(m.desc.Name()))
		n.mxAccount(t, adminTok, id, n.org, authz.RoleAuditor)
		pw := mxPassword(id)
		var grpcReq, restBody map[string]string
		switch m.desc.Name() {
		case "Login":
			grpcReq = map[string]string{"account": id, "password": pw}
			restBody = grpcReq
		case "ChangePassword":
			grpcReq = map[string]string{"account": id, "password": pw, "newPassword": pw + "-2"}
			restBody = map[string]string{"account": id, "password": pw + "-2", "newPassword": pw + "-3"}
		default:
			t.Errorf("public method %s has no case here: add one", m.full)
			continue
		}
		req := dynamicpb.NewMessage(m.desc.Input())
		raw, _ := json.Marshal(grpcReq)
		if err := protojson.Unmarshal(raw, req); err != nil {
			t.Fatalf("%s request: %v", m.full, err)
		}
		err := n.mxGRPC(m, "", req)
		if err != nil {
			t.Errorf("%s node: gRPC %s without a credential: %v", n.kind, m.full, err)
		} else {
			tally.add(n.kind, "grpc", mxAdmitted)
		}
		code, body := n.mxPostJSON(t, map[string]string{"Login": "/v1/login", "ChangePassword": "/v1/password"}[string(m.desc.Name())], "", restBody, nil)
		if code != http.StatusOK {
			t.Errorf("%s node: REST %s without a credential: %d %s", n.kind, m.full, code, body)
		} else {
			tally.add(n.kind, "rest", mxAdmitted)
		}
		cases += 2
	}
	return cases
}
