package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gwruntime "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// sheetCSV is a cash journal of n expenses dated today, each one the node
// records; bad replaces the line of data row i (1-based) with its text.
func sheetCSV(n int, bad map[int]string) string {
	var b strings.Builder
	b.WriteString("日期,类型,金额,支付方式,对方单位,证件号,摘要,凭证号,发票号码\n")
	today := time.Now().Format(time.DateOnly)
	for i := 1; i <= n; i++ {
		if l, ok := bad[i]; ok {
			b.WriteString(l + "\n")
			continue
		}
		fmt.Fprintf(&b, "%s,支出,%d.00,银行转账,福州某建材有限公司,91350100M000100Y43,材料费 第%d笔,记-%d,%08d\n", today, 10+i, i, i, 90000+i)
	}
	return b.String()
}

// importAnswer is what POST /v1/imports answered: the status, the error
// of a refusal, and the progress lines of a stream.
type importAnswer struct {
	code  int
	err   apiError
	lines []*sanziv1.ImportSheetResponse
	fail  string // {"error": ...} after the stream began
}

func (a importAnswer) last() *sanziv1.ImportSheetResponse {
	if len(a.lines) == 0 {
		return nil
	}
	return a.lines[len(a.lines)-1]
}

// importSheet posts body to /v1/imports with query and reads the answer.
func (n *testNode) importSheet(t *testing.T, client *http.Client, query, ctype string, body io.Reader, length int64) importAnswer {
	t.Helper()
	req, err := http.NewRequest("POST", n.base+"/v1/imports?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	if length != 0 {
		req.ContentLength = length
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/imports: %v", err)
	}
	defer resp.Body.Close()
	a := importAnswer{code: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		json.Unmarshal(raw, &a.err)
		return a
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line struct {
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if line.Error != nil {
			a.fail = string(line.Error)
			continue
		}
		var p sanziv1.ImportSheetResponse
		if err := (&gwruntime.JSONPb{}).Unmarshal(line.Result, &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		a.lines = append(a.lines, &p)
	}
	return a
}

func TestImportSheet(t *testing.T) {
	n := startTestNode(t, func(c *Config) {
		c.BodyLimits = map[string]int64{importRoute: 64 << 10}
		c.MaxSheetRows = 300
	})
	octet := "application/octet-stream"

	t.Run("a sheet recorded, with its progress", func(t *testing.T) {
		before := n.head()
		a := n.importSheet(t, n.client, "fileName=journal.csv", octet, strings.NewReader(sheetCSV(250, nil)), 0)
		if a.code != http.StatusOK || a.fail != "" {
			t.Fatalf("import: %d %+v %s", a.code, a.err, a.fail)
		}
		// READ first, CHECK as rows go (every hundredth, rising), RECORD,
		// then DONE with all 250 recorded.
		phases := map[sanziv1.ImportPhase]int{}
		prev := int32(-1)
		for _, l := range a.lines {
			phases[l.GetPhase()]++
			if l.GetRowsChecked() < prev || l.GetRowsTotal() != 250 {
				t.Fatalf("progress %v after %d checked: want rising counts of 250", l, prev)
			}
			prev = l.GetRowsChecked()
		}
		if a.lines[0].GetPhase() != sanziv1.ImportPhase_IMPORT_PHASE_READ || phases[sanziv1.ImportPhase_IMPORT_PHASE_CHECK] < 50 ||
			phases[sanziv1.ImportPhase_IMPORT_PHASE_RECORD] != 1 || a.last().GetPhase() != sanziv1.ImportPhase_IMPORT_PHASE_DONE {
			t.Fatalf("phases %v", phases)
		}
		res := a.last().GetResult()
		if res.GetRowsReceived() != 250 || res.GetRowsRecorded() != 250 || len(res.GetRejections()) != 0 {
			t.Fatalf("result %v", res)
		}
		if got := n.head().Seq - before.Seq; got < 250 {
			t.Fatalf("the head moved %d, want at least the 250 rows", got)
		}
		// The author is the signed-in account, whatever the query said.
		var author string
		id := res.GetFirstId()
		o, seq, _ := ledger.ParseEntryID(id)
		n.ledger.Range(o, seq, 1, func(s *ledger.Stored) bool { author = s.Author; return false })
		if author != testAccount {
			t.Fatalf("entry %s by %q, want %s", id, author, testAccount)
		}
	})

	t.Run("one bad cell and one refused row: nothing recorded, both listed", func(t *testing.T) {
		before := n.head()
		today := time.Now().Format(time.DateOnly)
		sheet := sheetCSV(5, map[int]string{
			2: today + ",支出,十二元,银行转账,福州某建材有限公司,91350100M000100Y43,材料费,记-902,00090902",
			4: today + ",支出,12.00,银行转账,福州某建材有限公司,91350100M000100Y43,材料费,记-904,12AB",
		})
		a := n.importSheet(t, n.client, "fileName=bad.csv", octet, strings.NewReader(sheet), 0)
		if a.code != http.StatusOK {
			t.Fatalf("import: %d %+v", a.code, a.err)
		}
		res := a.last().GetResult()
		if res.GetRowsRecorded() != 0 || res.GetRowsReceived() != 5 || res.GetRejectedTotal() != 2 || len(res.GetRejections()) != 2 {
			t.Fatalf("result %v", res)
		}
		r0, r1 := res.GetRejections()[0], res.GetRejections()[1]
		if r0.GetRow() != 3 || r0.GetField() != "金额" || r1.GetRow() != 5 || r1.GetField() != "transaction.invoiceNumber" || r1.GetReason() == "" {
			t.Fatalf("rejections %v: want line 3 金额 and line 5 transaction.invoiceNumber", res.GetRejections())
		}
		if n.head() != before {
			t.Fatal("a refused sheet moved the head")
		}
	})

	t.Run("a row of another village", func(t *testing.T) {
		before := n.head()
		today := time.Now().Format(time.DateOnly)
		sheet := "日期,类型,金额,摘要,组织代码\n" + today + ",支出,12.00,材料费,350505100202\n"
		a := n.importSheet(t, n.client, "fileName=other.csv", octet, strings.NewReader(sheet), 0)
		res := a.last().GetResult()
		if a.code != http.StatusOK || res.GetRowsRecorded() != 0 || len(res.GetRejections()) != 1 ||
			res.GetRejections()[0].GetRow() != 2 || res.GetRejections()[0].GetField() != "transaction.org" {
			t.Fatalf("import: %d %+v %v", a.code, a.err, res)
		}
		if n.head() != before {
			t.Fatal("a refused sheet moved the head")
		}
	})

	t.Run("over gRPC", func(t *testing.T) {
		c := sanziv1.NewTransactionServiceClient(grpcClient(t, n, n.token))
		stream, err := c.ImportSheet(context.Background(), &sanziv1.ImportSheetRequest{FileName: "j.csv", DryRun: true, Content: []byte(sheetCSV(2, nil))})
		if err != nil {
			t.Fatal(err)
		}
		var last *sanziv1.ImportSheetResponse
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			last = m
		}
		if last.GetPhase() != sanziv1.ImportPhase_IMPORT_PHASE_DONE || last.GetResult().GetRowsReceived() != 2 || len(last.GetResult().GetRejections()) != 0 {
			t.Fatalf("last message %v", last)
		}
		big, err := c.ImportSheet(context.Background(), &sanziv1.ImportSheetRequest{FileName: "j.csv", Content: bytes.Repeat([]byte("a"), 64<<10+1)})
		if err == nil {
			_, err = big.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("content over the limit over gRPC: %v", err)
		}
	})

	t.Run("an XLSX", func(t *testing.T) {
		f := excelize.NewFile()
		rows := strings.Split(strings.TrimSpace(sheetCSV(3, nil)), "\n")
		for i, l := range rows {
			cells := []any{}
			for _, c := range strings.Split(l, ",") {
				cells = append(cells, c)
			}
			cells[7] = fmt.Sprintf("记-X%d", i) // vouchers of their own
			if err := f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+1), &cells); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		a := n.importSheet(t, n.client, "fileName=2026年现金日记账.xlsx&dryRun=true", octet, &buf, 0)
		if a.code != http.StatusOK || a.last().GetResult().GetRowsReceived() != 3 || a.last().GetResult().GetRowsRecorded() != 0 || len(a.last().GetResult().GetRejections()) != 0 {
			t.Fatalf("dry run of an XLSX: %d %+v %v", a.code, a.err, a.last())
		}
	})

	t.Run("refusals", func(t *testing.T) {
		reader := signIn(t, n.Node, "reader", testOrg, authz.RoleSupervisoryCommittee)
		before := n.head()
		for _, tc := range []struct {
			name, query, ctype string
			body               io.Reader
			length             int64
			client             *http.Client
			code               int
			field              string
		}{
			{"not signed in", "fileName=a.csv", octet, strings.NewReader(sheetCSV(1, nil)), 0, http.DefaultClient, http.StatusUnauthorized, ""},
			{"a role that may not record", "fileName=a.csv", octet, strings.NewReader(sheetCSV(1, nil)), 0, clientWith(reader), http.StatusForbidden, ""},
			{"another village", "fileName=a.csv&org=350505100202", octet, strings.NewReader(sheetCSV(1, nil)), 0, n.client, http.StatusForbidden, ""},
			{"someone else as author", "fileName=a.csv&author=zhang.san", octet, strings.NewReader(sheetCSV(1, nil)), 0, n.client, http.StatusForbidden, ""},
			{"over the byte limit", "fileName=a.csv", octet, &filler{left: 64<<10 + 1, b: 'a'}, 64<<10 + 1, n.client, http.StatusRequestEntityTooLarge, "content"},
			{"over the byte limit, chunked", "fileName=a.csv", octet, &filler{left: 64<<10 + 1, b: 'a'}, -1, n.client, http.StatusRequestEntityTooLarge, "content"},
			{"over the row limit", "fileName=a.csv", octet, strings.NewReader(sheetCSV(301, nil)), 0, n.client, http.StatusRequestEntityTooLarge, "content"},
			{"a body that is not octets", "fileName=a.csv", "text/csv", strings.NewReader(sheetCSV(1, nil)), 0, n.client, http.StatusUnsupportedMediaType, "Content-Type"},
			{"a PDF named .pdf", "fileName=scan.pdf", octet, strings.NewReader("%PDF-1.7\n"), 0, n.client, http.StatusUnsupportedMediaType, "fileName"},
			{"an old .xls", "fileName=journal.xls", octet, strings.NewReader("\xd0\xcf\x11\xe0"), 0, n.client, http.StatusUnsupportedMediaType, "fileName"},
			{"a zip named .csv", "fileName=a.csv", octet, strings.NewReader("PK\x03\x04rest"), 0, n.client, http.StatusUnsupportedMediaType, "content"},
			{"text named .xlsx", "fileName=a.xlsx", octet, strings.NewReader(sheetCSV(1, nil)), 0, n.client, http.StatusUnsupportedMediaType, "content"},
			{"binary named .csv", "fileName=a.csv", octet, strings.NewReader("日期\x00\x01"), 0, n.client, http.StatusUnsupportedMediaType, "content"},
			{"empty", "fileName=a.csv", octet, strings.NewReader(""), 0, n.client, http.StatusBadRequest, "content"},
			{"no header", "fileName=a.csv", octet, strings.NewReader("a,b\n1,2\n"), 0, n.client, http.StatusBadRequest, "content"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := n.importSheet(t, tc.client, tc.query, tc.ctype, tc.body, tc.length)
				if a.code != tc.code || (tc.field != "" && a.err.field() != tc.field) {
					t.Fatalf("HTTP %d field %q (%s), want %d %q", a.code, a.err.field(), a.err.Message, tc.code, tc.field)
				}
			})
		}
		if n.head() != before {
			t.Fatal("a refused import moved the head")
		}
		// Nothing left in the staging folder (which the imports made).
		staging := filepath.Join(n.cfg.DataDir, "import-staging")
		if _, err := os.Stat(staging); err != nil {
			t.Fatalf("no staging folder: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(staging, "*")); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}
