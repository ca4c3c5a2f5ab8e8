// Command benchtable prints issue 17's table of measurements from the raw
// output of `make bench`: one row per path the issue measures (node
// start-up, the first page of a list, the loader against
// clickhouse-client, the loader's freshness, the district's ingest, the
// village → town → district sync, recording with rules on), each with its
// median over the runs, the reference measured in the same run (start-up
// replayed from the first entry; clickhouse-client; rules off), their
// ratio, the aim and whether it is met.
//
// It is a developer's tool beside the one `sanzi` binary, not a role of a
// node, so it lives under cmd/ on its own and never ships to a village.
//
//	go test -bench … | benchtable
//	benchtable $TMPDIR/sanzi-bench.out
//
// Input is the standard `go test -bench` format (read with
// golang.org/x/perf/benchfmt), plus the log lines of `go test -v -run
// TestSyncTwoTownsSixVillages ./cmd/sanzi`, the sync's one measurement,
// which is a test rather than a benchmark.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// run reads the files named in args (standard input when there are none)
// and writes the table to out; lines it could not read as results are
// named on warn. It fails when no row had a result: the wrong file, or
// every benchmark failed.
func run(args []string, stdin io.Reader, out, warn io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(out, "usage: benchtable [file …]   (go test -bench output; standard input when no file is named)")
		return nil
	}
	m := measurements{}
	if len(args) == 0 {
		if err := m.read(stdin, "stdin", warn); err != nil {
			return err
		}
	}
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("opening benchmark output: %w", err)
		}
		err = m.read(f, name, warn)
		f.Close()
		if err != nil {
			return err
		}
	}
	rows := table(m)
	if err := format(out, rows); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	for _, r := range rows {
		if r.Runs > 0 {
			return nil
		}
	}
	return fmt.Errorf("no result of issue 17's benchmarks in the input")
}
