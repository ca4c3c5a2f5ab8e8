package raftlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// capture returns a logger over a JSON handler at every level, and a
// function that decodes what it wrote, one map per record.
func capture(t *testing.T, level slog.Level) (*slog.Logger, func() []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level, AddSource: true})
	return slog.New(h).With("member", "d1"), func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("decode %q: %v", line, err)
			}
			delete(m, "time")
			out = append(out, m)
		}
		buf.Reset()
		return out
	}
}

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		name      string
		min       hclog.Level
		handler   slog.Level
		log       func(hclog.Logger)
		wantLevel string // "" when nothing is written
	}{
		{"trace", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Trace("m") }, "DEBUG-4"},
		{"debug", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Debug("m") }, "DEBUG"},
		{"info", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Info("m") }, "INFO"},
		{"warn", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Warn("m") }, "WARN"},
		{"error", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Error("m") }, "ERROR"},
		{"Log at error", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Log(hclog.Error, "m") }, "ERROR"},
		{"Log without a level is dropped, as hclog drops it", hclog.Trace, LevelTrace, func(l hclog.Logger) { l.Log(hclog.NoLevel, "m") }, ""},
		{"no level set is info: debug dropped", hclog.NoLevel, LevelTrace, func(l hclog.Logger) { l.Debug("m") }, ""},
		{"no level set is info: info written", hclog.NoLevel, LevelTrace, func(l hclog.Logger) { l.Info("m") }, "INFO"},
		{"info under hclog's warn", hclog.Warn, LevelTrace, func(l hclog.Logger) { l.Info("m") }, ""},
		{"warn at hclog's warn", hclog.Warn, LevelTrace, func(l hclog.Logger) { l.Warn("m") }, "WARN"},
		{"debug under slog's info", hclog.Trace, slog.LevelInfo, func(l hclog.Logger) { l.Debug("m") }, ""},
		{"error under slog's off", hclog.Trace, slog.LevelError + 1, func(l hclog.Logger) { l.Error("m") }, ""},
		{"hclog off", hclog.Off, LevelTrace, func(l hclog.Logger) { l.Error("m") }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, records := capture(t, c.handler)
			c.log(New(base, "raft", c.min))
			got := records()
			if c.wantLevel == "" {
				if len(got) != 0 {
					t.Fatalf("wrote %v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0]["level"] != c.wantLevel || got[0]["msg"] != "m" {
				t.Fatalf("wrote %v, want one record at %s", got, c.wantLevel)
			}
		})
	}
}

func TestIsLevel(t *testing.T) {
	base, _ := capture(t, slog.LevelInfo)
	l := New(base, "raft", hclog.Debug)
	got := []bool{l.IsTrace(), l.IsDebug(), l.IsInfo(), l.IsWarn(), l.IsError()}
	// Debug passes hclog's level but not the handler's.
	if want := []bool{false, false, true, true, true}; !reflect.DeepEqual(got, want) {
		t.Fatalf("IsTrace..IsError = %v, want %v", got, want)
	}
	l.SetLevel(hclog.Error)
	if l.IsWarn() || !l.IsError() || l.GetLevel() != hclog.Error {
		t.Fatalf("after SetLevel(Error): IsWarn %v IsError %v GetLevel %v", l.IsWarn(), l.IsError(), l.GetLevel())
	}
}

func TestFields(t *testing.T) {
	base, records := capture(t, LevelTrace)
	l := New(base, "raft", hclog.Trace)
	l.Warn("failed to contact", "server-id", "d2", "time", 1500, "index", hclog.Hex(255),
		"why", hclog.Fmt("%d of %d", 1, 3), "mode", hclog.Octal(8), "bits", hclog.Binary(5), "q", hclog.Quote("a\nb"), "dangling")
	got := records()
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	want := map[string]any{
		"level": "WARN", "msg": "failed to contact", "member": "d1", NameKey: "raft",
		"server-id": "d2", "time": nil, "index": "0xff", "why": "1 of 3", "mode": "010", "bits": "0b101",
		"q": "a\nb", hclog.MissingKey: "dangling",
	}
	r := got[0]
	if src, _ := r["source"].(map[string]any); !strings.HasSuffix(src["file"].(string), "raftlog_test.go") {
		t.Errorf("source %v, want this test's line (the caller of Warn)", r["source"])
	}
	delete(r, "source")
	delete(want, "time") // the handler's own time key wins over the field's in the decoded map
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("record\n%v\nwant\n%v", r, want)
	}
}

func TestWithAndNamed(t *testing.T) {
	base, records := capture(t, LevelTrace)
	root := New(base, "raft", hclog.Trace)
	net := root.Named("net").With("peer", "d2", "try", 1)
	again := net.With("try", 2, "odd")
	t.Run("Named joins names", func(t *testing.T) {
		if net.Name() != "raft.net" || root.Name() != "raft" {
			t.Fatalf("names %q and %q, want raft.net and raft", net.Name(), root.Name())
		}
		if n := root.ResetNamed("snap").Named("store").Name(); n != "snap.store" {
			t.Fatalf("ResetNamed then Named: %q, want snap.store", n)
		}
	})
	t.Run("With adds fields, a later value wins", func(t *testing.T) {
		if got, want := again.ImpliedArgs(), []any{"peer", "d2", "try", 2, hclog.MissingKey, "odd"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("ImpliedArgs %v, want %v", got, want)
		}
		again.Error("append failed", "index", 7)
		root.Info("plain")
		got := records()
		if len(got) != 2 {
			t.Fatalf("got %d records, want 2", len(got))
		}
		for k, v := range map[string]any{NameKey: "raft.net", "peer": "d2", "try": 2.0, hclog.MissingKey: "odd", "index": 7.0, "member": "d1"} {
			if got[0][k] != v {
				t.Errorf("field %s = %v, want %v (record %v)", k, got[0][k], v, got[0])
			}
		}
		if _, has := got[1]["peer"]; has || got[1][NameKey] != "raft" {
			t.Errorf("the parent took the child's fields or name: %v", got[1])
		}
	})
	t.Run("loggers share their level", func(t *testing.T) {
		net.SetLevel(hclog.Error)
		root.Warn("dropped")
		if got := records(); len(got) != 0 {
			t.Fatalf("parent wrote %v after the child set Error", got)
		}
		root.SetLevel(hclog.Trace)
	})
	t.Run("standard logger", func(t *testing.T) {
		net.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("from log")
		net.StandardLogger(nil).Print("[ERROR] not parsed")
		got := records()
		if len(got) != 2 || got[0]["level"] != "WARN" || got[0]["msg"] != "from log" || got[0]["peer"] != "d2" ||
			got[1]["level"] != "INFO" || got[1]["msg"] != "[ERROR] not parsed" {
			t.Fatalf("got %v", got)
		}
	})
}
