// Package rest is the front of every REST surface (a village or town node,
// a district member): it bounds each request body before it is read, refuses
// a wrong content type or method, and turns every refusal into the gateway's
// error shape ({code, message, details}) with the field at fault named in a
// google.rpc.BadRequest, so that a client always learns what to change.
//
// The routes come from the generated OpenAPI document, so a new binding in
// proto/sanzi/v1/http.yaml is guarded without a change here.
package rest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// BodyKind is what a route takes as its request body.
type BodyKind int

const (
	// NoBody: the route reads no body (GET, DELETE).
	NoBody BodyKind = iota
	// JSONBody: an application/json request message.
	JSONBody
	// RawBody: raw bytes (application/octet-stream) bound to one bytes
	// field, as attachment uploads are.
	RawBody
)

// DefaultJSONLimit is the body limit of a JSON route with no entry of its
// own (1 MiB): a request message is a few kilobytes; a megabyte is a mistake
// or an attack.
const DefaultJSONLimit = 1 << 20

// Route is one REST binding.
type Route struct {
	// Method and Pattern as in the OpenAPI document
	// ("POST", "/v1/contracts/{payment.contractId}/payments").
	Method, Pattern string
	Body            BodyKind
	// Field is the request field the body fills: "content" for a raw
	// upload, "body" for a whole JSON request message.
	Field string
	// Limit is the largest body taken, in bytes.
	Limit int64
}

// Key is the route's key in Limits.PerRoute: "POST /v1/rules".
func (r Route) Key() string { return r.Method + " " + r.Pattern }

// Limits are the body limits of the routes.
type Limits struct {
	// JSON is the limit of a JSON route with no entry in PerRoute; <= 0
	// means DefaultJSONLimit.
	JSON int64
	// Raw is the limit of a raw upload (the attachment limit); required
	// when a route takes a raw body.
	Raw int64
	// PerRoute overrides the limit of single routes, by Route.Key.
	PerRoute map[string]int64
}

// Routes reads the bindings of the given services (OpenAPI operation ids
// "Service_Method"; none means every service; an entry "Service_Method" is
// that one operation, see Serves) from an OpenAPI 2 document and sets each
// one's body limit.
func Routes(openapi []byte, lim Limits, services ...string) ([]Route, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name   string `json:"name"`
				In     string `json:"in"`
				Schema struct {
					Type   string `json:"type"`
					Format string `json:"format"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapi, &doc); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	if lim.JSON <= 0 {
		lim.JSON = DefaultJSONLimit
	}
	var out []Route
	for pattern, ops := range doc.Paths {
		for method, op := range ops {
			if len(services) > 0 && !Serves(services, op.OperationID) {
				continue
			}
			r := Route{Method: strings.ToUpper(method), Pattern: pattern}
			for _, p := range op.Parameters {
				if p.In != "body" {
					continue
				}
				switch {
				case p.Schema.Type == "string" && p.Schema.Format == "byte":
					r.Body, r.Field, r.Limit = RawBody, p.Name, lim.Raw
				default:
					r.Body, r.Field, r.Limit = JSONBody, "body", lim.JSON
				}
			}
			if l, ok := lim.PerRoute[r.Key()]; ok {
				r.Limit = l
			}
			if r.Body == RawBody && r.Limit <= 0 {
				return nil, fmt.Errorf("route %s takes a raw body but has no limit", r.Key())
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the OpenAPI document has no route of %v", services)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Key(), b.Key()) })
	return out, nil
}

// table finds the route of a request.
type table []Route

// match returns the route of method and path, or, when the path is known
// under other methods only, nil and those methods (for Allow).
func (t table) match(method, path string) (*Route, []string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var allow []string
	for i := range t {
		if !patternMatches(t[i].Pattern, segs) {
			continue
		}
		if t[i].Method == method {
			return &t[i], nil
		}
		if !slices.Contains(allow, t[i].Method) {
			allow = append(allow, t[i].Method)
		}
	}
	slices.Sort(allow)
	return nil, allow
}

// patternMatches matches the segments of a path against a pattern whose
// "{name}" segments take any one non-empty segment (the only wildcard
// Sanzi's bindings use).
func patternMatches(pattern string, segs []string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	if len(ps) != len(segs) {
		return false
	}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return true
}

// allowHeader is the Allow header value for methods.
func allowHeader(methods []string) string { return strings.Join(methods, ", ") }
