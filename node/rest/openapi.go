package rest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Document is the OpenAPI document openapi limited to the operations of
// services (operation ids "Service_Method") and their tags: what a server
// that registers only those serves at /openapi.json, so that the document
// never describes a route the server answers 404 (a district member serves
// DistrictService and AnalyticsService, not the village's API). An entry
// "Service_Method" keeps that one operation (the district serves
// BooksService_GetStatement, not the rest of the village's books), and
// the service's tag.
func Document(openapi []byte, services ...string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(openapi, &doc); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	var paths map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["paths"], &paths); err != nil {
		return nil, fmt.Errorf("read the OpenAPI paths: %w", err)
	}
	kept := map[string]map[string]json.RawMessage{}
	for pattern, ops := range paths {
		for method, raw := range ops {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if json.Unmarshal(raw, &op) != nil || op.OperationID == "" {
				continue // path-level "parameters", not an operation
			}
			if !Serves(services, op.OperationID) {
				continue
			}
			if kept[pattern] == nil {
				kept[pattern] = map[string]json.RawMessage{}
			}
			kept[pattern][method] = raw
		}
	}
	var tags []tag
	if err := json.Unmarshal(doc["tags"], &tags); err != nil {
		return nil, fmt.Errorf("read the OpenAPI tags: %w", err)
	}
	tags = slices.DeleteFunc(tags, func(t tag) bool {
		return !slices.ContainsFunc(services, func(s string) bool { svc, _, _ := strings.Cut(s, "_"); return svc == t.Name })
	})
	var err error
	if doc["paths"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	if doc["tags"], err = json.Marshal(tags); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// Serves reports whether services (each a service name, or one operation
// "Service_Method") include the operation id ("Service_Method").
func Serves(services []string, operationID string) bool {
	svc, _, _ := strings.Cut(operationID, "_")
	return slices.Contains(services, svc) || slices.Contains(services, operationID)
}

// tag is an OpenAPI tag: one per service.
type tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}
