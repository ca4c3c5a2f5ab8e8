// Package raftlog gives hashicorp/raft, which logs through hclog, a logger
// that hands every record to log/slog with its level, message and fields,
// so raft's warnings reach the member's own handler, filter and format
// instead of being printed as hclog text and sorted by searching that text
// for "[ERROR]".
//
// It implements hclog.Logger directly rather than registering a sink on an
// hclog.InterceptLogger: an intercept logger still formats each line for its
// own output and takes a lock per record to reach its sinks, and its sinks
// see every record whatever the level. Here a record below the level is
// dropped before anything is built, and the rest is one slog.Record.
package raftlog

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's Trace maps to: one step below
// slog.LevelDebug, as slog leaves room for.
const LevelTrace = slog.LevelDebug - 4

// NameKey is the field that carries the hclog name ("raft", "raft.net"),
// the subsystem a record comes from.
const NameKey = "subsystem"

// New returns an hclog.Logger named name that logs into base. Records less
// severe than level are dropped here, as hclog drops them; the rest go to
// base's handler, which may drop more. NoLevel is hclog's default, Info.
func New(base *slog.Logger, name string, level hclog.Level) hclog.Logger {
	if level == hclog.NoLevel {
		level = hclog.DefaultLevel
	}
	l := &logger{base: base, log: base, name: name, level: new(atomic.Int32)}
	l.level.Store(int32(level))
	return l
}

// logger is an hclog.Logger over slog. Loggers made from one another by With
// and Named share their level, as hclog's do by default.
type logger struct {
	base    *slog.Logger // as injected
	log     *slog.Logger // base with the implied fields
	name    string
	implied []any // key/value pairs added by With, sorted by key
	level   *atomic.Int32
}

var _ hclog.Logger = (*logger)(nil)

// Level maps an hclog level to slog's. NoLevel, which hclog uses for "not
// set" (and drops when logged at), is Info.
func Level(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// enabled says whether a record at level would be written.
func (l *logger) enabled(level hclog.Level) bool {
	if level == hclog.Off || level < hclog.Level(l.level.Load()) {
		return false
	}
	return l.log.Enabled(context.Background(), Level(level))
}

// emit writes one record. Every exported logging method calls it directly,
// so the caller it records (for handlers with AddSource) is raft's code, two
// frames up.
func (l *logger) emit(level hclog.Level, msg string, args []any) {
	if !l.enabled(level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // runtime.Callers, emit, the exported method
	r := slog.NewRecord(time.Now(), Level(level), msg, pcs[0])
	if l.name != "" {
		r.AddAttrs(slog.String(NameKey, l.name))
	}
	r.AddAttrs(attrs(args)...)
	_ = l.log.Handler().Handle(context.Background(), r) // hclog has no error to return either
}

// attrs turns hclog's alternating keys and values into slog fields. A value
// left without a key gets hclog's key for it, EXTRA_VALUE_AT_END.
func attrs(args []any) []slog.Attr {
	if len(args)%2 == 1 {
		args = append(args[:len(args)-1:len(args)-1], hclog.MissingKey, args[len(args)-1])
	}
	out := make([]slog.Attr, 0, len(args)/2)
	for i := 0; i < len(args); i += 2 {
		out = append(out, slog.Any(key(args[i]), value(args[i+1])))
	}
	return out
}

func key(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return fmt.Sprint(k)
}

// value renders hclog's formatting types as hclog's text output does; every
// other value is left to the slog handler.
func value(v any) any {
	switch v := v.(type) {
	case hclog.Format:
		if len(v) > 0 {
			if f, ok := v[0].(string); ok {
				return fmt.Sprintf(f, v[1:]...)
			}
		}
		return fmt.Sprint(v...)
	case hclog.Hex:
		return "0x" + strconv.FormatUint(uint64(v), 16)
	case hclog.Octal:
		return "0" + strconv.FormatUint(uint64(v), 8)
	case hclog.Binary:
		return "0b" + strconv.FormatUint(uint64(v), 2)
	case hclog.Quote:
		return string(v)
	case hclog.CapturedStacktrace:
		return string(v)
	}
	return v
}

func (l *logger) Log(level hclog.Level, msg string, args ...any) { l.emit(level, msg, args) }
func (l *logger) Trace(msg string, args ...any)                  { l.emit(hclog.Trace, msg, args) }
func (l *logger) Debug(msg string, args ...any)                  { l.emit(hclog.Debug, msg, args) }
func (l *logger) Info(msg string, args ...any)                   { l.emit(hclog.Info, msg, args) }
func (l *logger) Warn(msg string, args ...any)                   { l.emit(hclog.Warn, msg, args) }
func (l *logger) Error(msg string, args ...any)                  { l.emit(hclog.Error, msg, args) }

func (l *logger) IsTrace() bool { return l.enabled(hclog.Trace) }
func (l *logger) IsDebug() bool { return l.enabled(hclog.Debug) }
func (l *logger) IsInfo() bool  { return l.enabled(hclog.Info) }
func (l *logger) IsWarn() bool  { return l.enabled(hclog.Warn) }
func (l *logger) IsError() bool { return l.enabled(hclog.Error) }

// ImpliedArgs returns the fields added by With.
func (l *logger) ImpliedArgs() []any { return slices.Clone(l.implied) }

// With returns a logger that adds args to every record. As in hclog, a key
// given again replaces its earlier value.
func (l *logger) With(args ...any) hclog.Logger {
	var extra []any
	if len(args)%2 == 1 {
		extra, args = []any{hclog.MissingKey, args[len(args)-1]}, args[:len(args)-1]
	}
	byKey := map[string]any{}
	var keys []string
	for _, kv := range [][]any{l.implied, args} {
		for i := 0; i < len(kv); i += 2 {
			k := key(kv[i])
			if _, seen := byKey[k]; !seen {
				keys = append(keys, k)
			}
			byKey[k] = kv[i+1]
		}
	}
	slices.Sort(keys)
	implied := make([]any, 0, 2*len(keys)+len(extra))
	for _, k := range keys {
		implied = append(implied, k, byKey[k])
	}
	implied = append(implied, extra...)
	c := *l
	c.implied = implied
	fields := attrs(implied)
	withArgs := make([]any, len(fields))
	for i, a := range fields {
		withArgs[i] = a
	}
	c.log = l.base.With(withArgs...)
	return &c
}

// Name is the logger's name, parts joined by dots.
func (l *logger) Name() string { return l.name }

// Named returns a logger whose name is this one's with name appended
// ("raft" then "net" is "raft.net").
func (l *logger) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return l.ResetNamed(name)
}

// ResetNamed returns a logger named name, whatever this one's name.
func (l *logger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.name = name
	return &c
}

// SetLevel changes the level of this logger and of every logger made from
// it or it from.
func (l *logger) SetLevel(level hclog.Level) { l.level.Store(int32(level)) }

func (l *logger) GetLevel() hclog.Level { return hclog.Level(l.level.Load()) }

// StandardLogger returns a standard library logger that writes through this
// one, at opts.ForceLevel when set and Info otherwise. Levels are never
// guessed from the text (opts.InferLevels is ignored).
func (l *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter is StandardLogger's writer: one record per write.
func (l *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return stdWriter{l: l, level: level}
}

type stdWriter struct {
	l     *logger
	level hclog.Level
}

func (w stdWriter) Write(p []byte) (int, error) {
	w.l.emit(w.level, strings.TrimRight(string(p), "\n"), nil)
	return len(p), nil
}
