package rest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	gen "github.com/sanzi/sanzi/proto/gen"
)

// TestDocumentKeepsOneOperation: a district serves BooksService's
// GetStatement and none of the village's other books routes, so its
// document and routes hold /v1/statements, not /v1/vouchers, and keep the
// BooksService tag.
func TestDocumentKeepsOneOperation(t *testing.T) {
	services := []string{"AnalyticsService", "BooksService_GetStatement"}
	raw, err := Document(gen.OpenAPI, services...)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
		Tags []tag `json:"tags"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var books, stats []string
	for p, ops := range doc.Paths {
		for _, op := range ops {
			switch {
			case strings.HasPrefix(op.OperationID, "BooksService_"):
				books = append(books, op.OperationID+" "+p)
			case strings.HasPrefix(op.OperationID, "AnalyticsService_"):
				stats = append(stats, op.OperationID)
			default:
				t.Errorf("the document describes %s %s", op.OperationID, p)
			}
		}
	}
	if !slices.Equal(books, []string{"BooksService_GetStatement /v1/statements"}) {
		t.Errorf("BooksService operations: %v; want only GetStatement at /v1/statements", books)
	}
	if len(stats) == 0 {
		t.Error("the document lost AnalyticsService")
	}
	var tags []string
	for _, tg := range doc.Tags {
		tags = append(tags, tg.Name)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"AnalyticsService", "BooksService"}) {
		t.Errorf("tags %v; want AnalyticsService and BooksService", tags)
	}

	routes, err := Routes(gen.OpenAPI, Limits{}, services...)
	if err != nil {
		t.Fatal(err)
	}
	var booksRoutes []string
	for _, r := range routes {
		if r.Pattern == "/v1/statements" || strings.HasPrefix(r.Pattern, "/v1/vouchers") || strings.HasPrefix(r.Pattern, "/v1/months") || strings.HasPrefix(r.Pattern, "/v1/books") {
			booksRoutes = append(booksRoutes, r.Key())
		}
	}
	if !slices.Equal(booksRoutes, []string{"GET /v1/statements"}) {
		t.Errorf("books routes %v; want only GET /v1/statements", booksRoutes)
	}
}
