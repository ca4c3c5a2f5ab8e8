// Package chserver runs a private clickhouse-server for tests and the demo:
// Debian's 18.16 package installs the binary but no running service, and a
// test must never touch a server someone else uses. Start writes a minimal
// config into its own folder, picks free ports, starts the server (as the
// clickhouse user when run as root, which the server insists on), waits
// until it answers, and Stop ends it.
package chserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Binary is where Debian's clickhouse-server package puts the server.
const Binary = "/usr/sbin/clickhouse-server"

// Server is one running clickhouse-server.
type Server struct {
	extra string
	dir   string
	tcp   int
	http  int
	cmd   *exec.Cmd
	done  chan error
	log   *slog.Logger
}

// Options configure Start; the zero value is fine.
type Options struct {
	// Dir holds the config, data and logs; a new temporary folder when
	// empty (removed by Stop).
	Dir string
	// TCPPort and HTTPPort; 0 picks free ones.
	TCPPort, HTTPPort int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Extra is XML placed inside the server's <yandex> config, e.g. a
	// <remote_servers> section for a sharded test.
	Extra string
}

// ErrNotInstalled says the server binary is missing: run `make setup`.
var ErrNotInstalled = errors.New("clickhouse-server is not installed (" + Binary + "); run `make setup`, which installs Debian's clickhouse-server package")

// Start starts a server and waits until it answers a ping (at most a
// minute).
func Start(ctx context.Context, o Options) (*Server, error) {
	if _, err := os.Stat(Binary); err != nil {
		return nil, ErrNotInstalled
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	temp := o.Dir == ""
	if temp {
		d, err := os.MkdirTemp("", "sanzi-clickhouse-")
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	var err error
	for _, p := range []*int{&o.TCPPort, &o.HTTPPort} {
		if *p == 0 {
			if *p, err = freePort(); err != nil {
				return nil, err
			}
		}
	}
	s := &Server{dir: o.Dir, tcp: o.TCPPort, http: o.HTTPPort, done: make(chan error, 1), log: o.Logger, extra: o.Extra}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(Binary, "--config-file="+filepath.Join(s.dir, "config.xml"))
	out, err := os.Create(filepath.Join(s.dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Its own process group (Stop signals the group), and killed with us:
	// a test that dies must not leave a server running.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 {
		// The server refuses to run as root over a folder it does not own.
		uid, gid, err := lookup("clickhouse")
		if err != nil {
			return nil, err
		}
		if err := chownAll(s.dir, uid, gid); err != nil {
			return nil, err
		}
		s.cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", Binary, err)
	}
	go func() { s.done <- s.cmd.Wait(); out.Close() }()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.waitReady(wait); err != nil {
		s.Stop()
		return nil, err
	}
	s.log.Info("clickhouse-server started", "tcp", s.Addr(), "dir", s.dir)
	return s, nil
}

// FreePort is a TCP port free on loopback now, for configs that must name
// a server's port before it starts (the shards of a cluster).
func FreePort() (int, error) { return freePort() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lookup(name string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s (made by the clickhouse-server package): %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
}

func (s *Server) writeConfig() error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/server.err.log</errorlog><size>50M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
%[4]s
</yandex>
`, s.dir, s.tcp, s.http, s.extra)
	users := `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o644)
}

func (s *Server) waitReady(ctx context.Context) error {
	for {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}, DialTimeout: time.Second})
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.err.log"))
			out, _ := os.ReadFile(filepath.Join(s.dir, "stdout.log"))
			return fmt.Errorf("clickhouse-server exited at start (%v): %s%s", werr, tail(log, 1000), tail(out, 1000))
		case <-ctx.Done():
			return fmt.Errorf("clickhouse-server on %s did not answer: %w (last: %v)", s.Addr(), ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Addr is the native-protocol address, host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.tcp)) }

// TCPPort is the native-protocol port (for clickhouse-client --port).
func (s *Server) TCPPort() int { return s.tcp }

// Dir is the server's folder.
func (s *Server) Dir() string { return s.dir }

// Stop ends the server (SIGTERM, then SIGKILL after 20 s). The folder stays,
// so Restart can start it again over the same data.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
	return nil
}

// Restart starts the server again over the same folder and ports, as after
// an outage.
func (s *Server) Restart(ctx context.Context) error {
	n, err := Start(ctx, Options{Dir: s.dir, TCPPort: s.tcp, HTTPPort: s.http, Logger: s.log, Extra: s.extra})
	if err != nil {
		return err
	}
	*s = *n
	return nil
}

// Kill kills the server at once, leaving its folder: for a server whose
// data nobody keeps (the demo's, loaded again from the district at each
// start), where a clean stop only costs time (ClickHouse takes seconds to
// shut down after a large load).
func (s *Server) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		s.cmd = nil
	}
}

// Close stops the server and removes its folder.
func (s *Server) Close() error {
	err := s.Stop()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// CPU is the CPU time (user and system) the server's process has used so
// far, from /proc: a benchmark compares what two ways of loading the same
// rows cost the server, beside what they cost the client. Linux only;
// /proc counts in USER_HZ ticks, 100 a second on every Linux ABI Go runs
// on.
func (s *Server) CPU() (time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, errors.New("clickhouse-server is not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's CPU time: %w", err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("read the server's CPU time: /proc stat has %d fields after the name", len(f))
	}
	var ticks int64
	for _, v := range f[11:13] { // utime and stime: fields 14 and 15
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the server's CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// Insert sends rows as one INSERT; q names the table and its columns. It is
// for hand-made rows (tests, a seed): the loader builds its batches
// column by column instead.
func Insert(ctx context.Context, conn driver.Conn, q string, rows ...[]any) error {
	b, err := conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("prepare %q: %w", q, err)
	}
	for i, r := range rows {
		if err := b.Append(r...); err != nil {
			return fmt.Errorf("row %d of %q: %w", i, q, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %q: %w", q, err)
	}
	return nil
}

// ThreadCPU is the CPU time the server's threads have used so far, summed
// by thread name (/proc/<pid>/task/*/comm: TCPHandler for the threads
// that run a connection's queries, inserts included, BackgrProcPool for
// the background merges, ...): a benchmark tells the inserts' cost from
// the merges' in the same window. Threads that ended are not counted.
// Linux only.
func (s *Server) ThreadCPU() (map[string]time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil, errors.New("clickhouse-server is not running")
	}
	dir := fmt.Sprintf("/proc/%d/task", s.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list the server's threads: %w", err)
	}
	out := map[string]time.Duration{}
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(b[j+1:]))
		if len(f) < 13 {
			continue
		}
		var ticks int64
		for _, v := range f[11:13] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		out[string(b[i+1:j])] += time.Duration(ticks) * (time.Second / 100)
	}
	return out, nil
}
