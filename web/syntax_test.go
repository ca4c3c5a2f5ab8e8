package web

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestScriptsParse checks every console module's syntax with Node (which
// make setup installs for npm): one lost bracket in a module stops the
// whole console, and without this only the browser tests, minutes later,
// would say so, each as a time-out on its first page.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node not found (%v): CI runs make setup, which installs it", err)
		}
		t.Skip("node not found: install it with `make setup`")
	}
	n := 0
	err = fs.WalkDir(os.DirFS("app"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		src, err := os.ReadFile("app/" + path)
		if err != nil {
			return err
		}
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = bytes.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("app/%s does not parse: %v\n%s", path, err, out)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("checked %d modules under app/; the console has more", n)
	}
}
