// Package deploy holds no code: its tests check the files under deploy/
// (systemd units, compose file, Kubernetes manifests, alert rules,
// dashboard) against what the binary really serves, so a renamed flag or
// metric fails here rather than on an operator's server.
package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// role is one kind of node the binary serves.
type role string

const (
	village  role = "village"
	town     role = "town"
	district role = "district"
)

// httpFlag names each role's flag for /metrics, /healthz and /readyz.
var httpFlag = map[role]string{village: "http-addr", town: "http-addr", district: "http"}

// probePaths are the only health paths the nodes serve (node/server,
// federation/member).
var probePaths = []string{"/healthz", "/readyz"}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	helpMu    sync.Mutex
	helpCache = map[role]map[string]string{}
)

// sanziBinary builds cmd/sanzi once per test run into a temporary folder.
func sanziBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sanzi-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sanzi")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/sanzi").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build cmd/sanzi: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

var flagLine = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9-]+)(.*)$`)
var defaultValue = regexp.MustCompile(`\(default "?([^")]*)"?\)`)

// serveFlags runs "sanzi ROLE serve --help" and returns its flags (local
// and global) with their defaults ("" when none is printed).
func serveFlags(t *testing.T, r role) map[string]string {
	t.Helper()
	helpMu.Lock()
	defer helpMu.Unlock()
	if f, ok := helpCache[r]; ok {
		return f
	}
	out, err := exec.Command(sanziBinary(t), string(r), "serve", "--help").Output()
	if err != nil {
		t.Fatalf("sanzi %s serve --help: %v", r, err)
	}
	flags := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := flagLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		def := ""
		if d := defaultValue.FindStringSubmatch(m[2]); d != nil {
			def = d[1]
		}
		flags[m[1]] = def
	}
	if len(flags) < 10 || flags[httpFlag[r]] == "" && r != district {
		t.Fatalf("sanzi %s serve --help: parsed only %v", r, flags)
	}
	helpCache[r] = flags
	return flags
}

// envFlag turns SANZI_HTTP_ADDR into http-addr; ok is false for another
// variable.
func envFlag(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "SANZI_")
	if !ok {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}

// node is one Sanzi process as a deployment file describes it.
type node struct {
	where    string            // file and service/container, for messages
	role     role              // from its "ROLE serve" command
	settings map[string]string // flag -> value, from SANZI_* env and --flags
}

// port returns the port of flag's value, or of its default.
func (n node) port(t *testing.T, flag string) string {
	t.Helper()
	v := n.settings[flag]
	if v == "" {
		v = serveFlags(t, n.role)[flag]
	}
	_, p, err := net.SplitHostPort(v)
	if err != nil {
		t.Fatalf("%s: --%s=%q is not host:port: %v", n.where, flag, v, err)
	}
	return p
}

// checkFlags fails for every setting the role's serve command does not take.
func checkFlags(t *testing.T, n node) {
	t.Helper()
	known := serveFlags(t, n.role)
	for f := range n.settings {
		if _, ok := known[f]; !ok {
			t.Errorf("%s: %s serve has no flag --%s (nor SANZI_%s)", n.where, n.role, f, strings.ToUpper(strings.ReplaceAll(f, "-", "_")))
		}
	}
}

// parseCommand finds "ROLE serve" and the --flags in a command line (a
// list of arguments, or shell text in one of them).
func parseCommand(words []string, settings map[string]string) role {
	var r role
	fields := []string{}
	for _, w := range words {
		fields = append(fields, strings.Fields(w)...)
	}
	for i, f := range fields {
		f = strings.Trim(f, `"';`)
		if f == "serve" && i > 0 {
			switch prev := role(strings.Trim(fields[i-1], `"';`)); prev {
			case village, town, district:
				r = prev
			}
		}
		if name, ok := strings.CutPrefix(f, "--"); ok && name != "" {
			name, val, _ := strings.Cut(name, "=")
			if val == "" && i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") {
				val = strings.Trim(fields[i+1], `"';`)
			}
			settings[name] = val
		}
	}
	return r
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("parse %s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// get walks nested maps by key; nil when a step is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	return out
}

// underMount reports whether path is at or below one of the mount targets.
func underMount(path string, mounts map[string]bool) (string, bool) {
	for m := range mounts {
		if path == m || strings.HasPrefix(path, strings.TrimSuffix(m, "/")+"/") {
			return m, true
		}
	}
	return "", false
}

func TestComposeMatchesTheBinary(t *testing.T) {
	docs := readYAMLDocs(t, "docker/compose.yaml")
	c := docs[0]
	services, _ := c["services"].(map[string]any)
	declared, _ := c["volumes"].(map[string]any)
	counts := map[role]int{}
	caVolume := ""
	tlsWritten := map[string]bool{}
	for name, s := range services {
		for _, v := range strs(get(s, "volumes")) {
			parts := strings.Split(v, ":")
			if strings.HasPrefix(parts[0], ".") {
				if _, err := os.Stat(filepath.Join("docker", parts[0])); err != nil {
					t.Errorf("%s: bind mount %s: %v", name, parts[0], err)
				}
				continue
			}
			if _, ok := declared[parts[0]]; !ok {
				t.Errorf("%s: volume %s is not declared", name, parts[0])
			}
			if name == "ca" {
				if parts[1] == "/ca" {
					caVolume = parts[0]
				} else {
					tlsWritten[parts[0]] = true
				}
			}
		}
	}
	if caVolume == "" {
		t.Fatal(`the one-shot "ca" service mounts no /ca volume`)
	}
	for name, s := range services {
		env, _ := get(s, "environment").(map[string]any)
		settings := map[string]string{}
		for k, v := range env {
			if f, ok := envFlag(k); ok {
				settings[f] = str(v)
			}
		}
		r := parseCommand(strs(get(s, "command")), settings)
		if r == "" {
			continue
		}
		counts[r]++
		n := node{where: "compose " + name, role: r, settings: settings}
		checkFlags(t, n)
		mounts, ro := map[string]bool{}, map[string]bool{}
		for _, v := range strs(get(s, "volumes")) {
			parts := strings.Split(v, ":")
			if parts[0] == caVolume {
				t.Errorf("%s mounts the CA volume %s (ca.key)", name, caVolume)
			}
			mounts[parts[1]] = true
			if len(parts) > 2 && parts[2] == "ro" {
				ro[parts[1]] = true
				if !tlsWritten[parts[0]] {
					t.Errorf("%s: TLS volume %s is not filled by the ca service", name, parts[0])
				}
			}
		}
		if m, ok := underMount(settings["data"], mounts); !ok || ro[m] {
			t.Errorf("%s: --data %q is not on a writable volume (mounts %v)", name, settings["data"], mounts)
		}
		if m, ok := underMount(settings["tls-dir"], mounts); !ok || !ro[m] {
			t.Errorf("%s: --tls-dir %q is not a read-only volume", name, settings["tls-dir"])
		}
		// The healthcheck probes both paths on the HTTP flag's port.
		hc := strings.Join(strs(get(s, "healthcheck", "test")), " ")
		if hc == "" {
			hc = strings.Join(strs(get(c, "x-sanzi", "healthcheck", "test")), " ")
		}
		if want := "/dev/tcp/127.0.0.1/" + n.port(t, httpFlag[r]); !strings.Contains(hc, want) {
			t.Errorf("%s: healthcheck %q does not probe %s", name, hc, want)
		}
		for _, p := range probePaths {
			if !strings.Contains(hc, p) {
				t.Errorf("%s: healthcheck does not probe %s", name, p)
			}
		}
		// Published ports are ports the node listens on.
		listens := map[string]bool{}
		for f := range serveFlags(t, r) {
			if slices.Contains([]string{"http-addr", "grpc-addr", "sync-addr", "http", "api", "raft"}, f) && (r != village || f != "sync-addr") {
				listens[n.port(t, f)] = true
			}
		}
		for _, p := range strs(get(s, "ports")) {
			parts := strings.Split(p, ":")
			if !listens[parts[len(parts)-1]] {
				t.Errorf("%s: publishes port %s, which no flag listens on (%v)", name, parts[len(parts)-1], listens)
			}
		}
	}
	// Parents: every --parent names a service and the port it listens on.
	for name, s := range services {
		env, _ := get(s, "environment").(map[string]any)
		parent := str(env["SANZI_PARENT"]) + str(env["SANZI_JOIN"])
		if parent == "" {
			continue
		}
		host, port, _ := net.SplitHostPort(parent)
		ps, ok := services[host]
		if !ok {
			t.Errorf("%s: parent %s is not a service", name, parent)
			continue
		}
		penv, _ := get(ps, "environment").(map[string]any)
		pr := parseCommand(strs(get(ps, "command")), map[string]string{})
		flag := map[role]string{town: "SANZI_SYNC_ADDR", district: "SANZI_API"}[pr]
		if _, p, _ := net.SplitHostPort(str(penv[flag])); p != port {
			t.Errorf("%s: parent %s, but %s listens on %s", name, parent, host, str(penv[flag]))
		}
	}
	if counts[district] != 3 || counts[town] != 2 || counts[village] != 4 {
		t.Errorf("compose runs %v nodes, want 3 district members, 2 towns, 4 villages", counts)
	}
	if img := str(get(services["clickhouse"], "image")); !strings.HasPrefix(img, "clickhouse/clickhouse-server:") {
		t.Errorf("clickhouse image %q", img)
	}
}

func TestKubernetesMatchesTheBinary(t *testing.T) {
	files, _ := filepath.Glob("k8s/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests under k8s/")
	}
	kinds := map[string]map[string]any{}
	secrets := map[string]map[string]any{}
	var services []map[string]any
	roles := map[role]int{}
	for _, f := range files {
		for _, d := range readYAMLDocs(t, f) {
			kind, name := str(d["kind"]), str(get(d, "metadata", "name"))
			kinds[kind+"/"+name] = d
			switch kind {
			case "Secret":
				secrets[name], _ = d["stringData"].(map[string]any)
			case "Service":
				services = append(services, d)
			}
		}
	}
	for key, d := range kinds {
		pod := get(d, "spec", "template", "spec")
		if pod == nil {
			continue
		}
		vols := map[string]any{}
		for _, v := range list(get(pod, "volumes")) {
			vols[str(get(v, "name"))] = v
		}
		for _, v := range list(get(d, "spec", "volumeClaimTemplates")) {
			vols[str(get(v, "metadata", "name"))] = v
		}
		all := append(list(get(pod, "initContainers")), list(get(pod, "containers"))...)
		for _, ctr := range all {
			where := key + " " + str(get(ctr, "name"))
			mounts, ro := map[string]bool{}, map[string]bool{}
			for _, m := range list(get(ctr, "volumeMounts")) {
				name := str(get(m, "name"))
				v, ok := vols[name]
				if !ok {
					t.Errorf("%s: mounts volume %s the pod does not have", where, name)
				}
				if s := str(get(v, "secret", "secretName")); s != "" {
					if _, ok := secrets[s]; !ok {
						t.Errorf("%s: secret %s is not in secrets.yaml", where, s)
					}
					if _, ok := secrets[s]["ca.key"]; ok {
						t.Errorf("%s: secret %s holds ca.key", where, s)
					}
				}
				mounts[str(get(m, "mountPath"))] = true
				if b, _ := get(m, "readOnly").(bool); b {
					ro[str(get(m, "mountPath"))] = true
				}
			}
			settings := map[string]string{}
			for _, e := range list(get(ctr, "env")) {
				if f, ok := envFlag(str(get(e, "name"))); ok {
					settings[f] = str(get(e, "value"))
				}
			}
			r := parseCommand(append(strs(get(ctr, "command")), strs(get(ctr, "args"))...), settings)
			if r == "" {
				continue
			}
			roles[r]++
			n := node{where: where, role: r, settings: settings}
			checkFlags(t, n)
			if m, ok := underMount(settings["data"], mounts); !ok || ro[m] {
				t.Errorf("%s: --data %q is not on a writable volume", where, settings["data"])
			}
			if m, ok := underMount(settings["tls-dir"], mounts); !ok || !ro[m] {
				t.Errorf("%s: --tls-dir %q is not mounted read-only", where, settings["tls-dir"])
			}
			ports := map[string]string{}
			for _, p := range list(get(ctr, "ports")) {
				ports[str(get(p, "name"))] = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(jsonString(get(p, "containerPort"))), `"`), `"`))
			}
			for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
				got := str(get(ctr, probe, "httpGet", "path"))
				if got != path {
					t.Errorf("%s: %s path %q, want %s", where, probe, got, path)
				}
				if p := str(get(ctr, probe, "httpGet", "port")); ports[p] != n.port(t, httpFlag[r]) {
					t.Errorf("%s: %s on port %s=%s, the node serves health on %s", where, probe, p, ports[p], n.port(t, httpFlag[r]))
				}
			}
			listen := map[string]bool{}
			for _, f := range []string{"http-addr", "grpc-addr", "sync-addr", "http", "api", "raft"} {
				if _, ok := serveFlags(t, r)[f]; ok && (r != village || f != "sync-addr") {
					v := settings[f]
					if v == "" {
						v = serveFlags(t, r)[f]
					}
					_, p, _ := net.SplitHostPort(strings.ReplaceAll(v, "$(POD_IP)", "0.0.0.0"))
					listen[p] = true
				}
			}
			for name, p := range ports {
				if !listen[p] {
					t.Errorf("%s: containerPort %s=%s, which no flag listens on (%v)", where, name, p, listen)
				}
			}
			// Services route only to named ports the pod declares.
			labels, _ := get(d, "spec", "template", "metadata", "labels").(map[string]any)
			for _, svc := range services {
				sel, _ := get(svc, "spec", "selector").(map[string]any)
				if len(sel) == 0 || !matches(sel, labels) {
					continue
				}
				for _, sp := range list(get(svc, "spec", "ports")) {
					if tp := str(get(sp, "targetPort")); ports[tp] == "" {
						t.Errorf("service %s: targetPort %s is not a port of %s", get(svc, "metadata", "name"), tp, where)
					}
				}
			}
		}
	}
	if roles[district] != 1 || roles[town] != 2 {
		t.Errorf("k8s: %v, want the district StatefulSet and 2 towns", roles)
	}
	if r := get(kinds["StatefulSet/sanzi-district"], "spec", "replicas"); r != 3 {
		t.Errorf("district replicas %v, want 3", r)
	}
	if m := get(kinds["PodDisruptionBudget/sanzi-district"], "spec", "minAvailable"); m != 2 {
		t.Errorf("district PDB minAvailable %v, want 2", m)
	}
	if get(kinds["Service/sanzi-district"], "spec", "clusterIP") != "None" {
		t.Error("the district's Service is not headless")
	}
	// ClickHouse: two shards, in the cluster the members name.
	xml := str(get(kinds["ConfigMap/clickhouse-sanzi-cluster"], "data", "sanzi-cluster.xml"))
	if n := strings.Count(xml, "<shard>"); n != 2 || !strings.Contains(xml, "<sanzi>") {
		t.Errorf("clickhouse config: %d shards, cluster sanzi present %v", n, strings.Contains(xml, "<sanzi>"))
	}
	if r := get(kinds["StatefulSet/clickhouse"], "spec", "replicas"); r != 2 {
		t.Errorf("clickhouse replicas %v, want 2", r)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func matches(sel, labels map[string]any) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestSystemdEnvFilesMatchTheBinary checks each unit's environment file
// against its role's flags and the unit's readiness poll.
func TestSystemdEnvFilesMatchTheBinary(t *testing.T) {
	units := map[string]struct {
		env  string
		role role
	}{
		"sanzi-village.service":   {"village.env", village},
		"sanzi-town.service":      {"town.env", town},
		"sanzi-district@.service": {"district-d1.env", district},
	}
	for unit, u := range units {
		b, err := os.ReadFile(filepath.Join("systemd", u.env))
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
			k, v, ok := strings.Cut(line, "=")
			if f, isFlag := envFlag(k); ok && isFlag && !strings.ContainsAny(k, " ") {
				settings[f] = v
			}
		}
		n := node{where: u.env, role: u.role, settings: settings}
		checkFlags(t, n)
		ub, err := os.ReadFile(filepath.Join("systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		text := string(ub)
		httpEnv := "SANZI_" + strings.ToUpper(strings.ReplaceAll(httpFlag[u.role], "-", "_"))
		if settings[httpFlag[u.role]] == "" || !strings.Contains(text, "$${"+httpEnv+"}/readyz") {
			t.Errorf("%s: the readiness poll must use %s, which %s must set", unit, httpEnv, u.env)
		}
		if !strings.Contains(text, "ExecStart=/usr/local/bin/sanzi "+string(u.role)+" serve") {
			t.Errorf("%s does not run %s serve", unit, u.role)
		}
		for _, want := range []string{"User=sanzi", "ProtectSystem=strict", "NoNewPrivileges=yes", "StateDirectory=sanzi", "Restart=on-failure", "CapabilityBoundingSet=\n", "PrivateTmp=yes", "ProtectHome=yes"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", unit, strings.TrimSpace(want))
			}
		}
		if d := settings["data"]; !strings.HasPrefix(d, "/var/lib/sanzi/") {
			t.Errorf("%s: SANZI_DATA %q is outside the StateDirectory /var/lib/sanzi", u.env, d)
		}
	}
}

// TestSystemdAnalyzeVerify runs systemd-analyze verify on the units, with
// ExecStart pointing at a freshly built binary; any warning fails.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed on this machine")
	}
	bin := sanziBinary(t)
	dir := t.TempDir()
	var paths []string
	units, _ := filepath.Glob("systemd/*.service")
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/local/bin/sanzi"), []byte(bin))
		name := filepath.Base(u)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "@.service") {
			inst := strings.Replace(name, "@.", "@d1.", 1)
			os.WriteFile(filepath.Join(dir, inst), b, 0o644)
			name = inst
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	out, err := exec.Command(sa, append([]string{"verify"}, paths...)...).CombinedOutput()
	t.Logf("systemd-analyze verify %d units: %q", len(paths), out)
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var metricName = regexp.MustCompile(`\bsanzi_[a-z0-9_]+`)

// TestMetricsExist checks that every sanzi_* name in the alert rules and the
// dashboard is registered somewhere in the Go sources (outside tests).
func TestMetricsExist(t *testing.T) {
	var src bytes.Buffer
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".demo" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			src.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(alerts, &rules); err != nil {
		t.Fatalf("parse alerts.yml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v lacks a name or an expression", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	dash, err := os.ReadFile("grafana/sanzi-district.json")
	if err != nil {
		t.Fatal(err)
	}
	var board struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &board); err != nil {
		t.Fatalf("parse dashboard: %v", err)
	}
	for _, p := range board.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && bytes.Contains(src.Bytes(), []byte(`"`+b+`"`)) {
					base = b
				}
			}
			seen[base] = true
			if !bytes.Contains(src.Bytes(), []byte(`"`+base+`"`)) {
				t.Errorf("metric %s is not exported by any Go source", name)
			}
		}
	}
	for _, must := range []string{"sanzi_sync_lag_entries", "sanzi_sync_refused_chains", "sanzi_district_forks_refused_total", "sanzi_district_tamper_refused_total",
		"sanzi_town_tamper_refused_total", "sanzi_raft_state", "sanzi_analytics_lag_raft_entries", "sanzi_notify_deliveries_total"} {
		if !seen[must] {
			t.Errorf("alerts and dashboard never use %s", must)
		}
	}
	t.Logf("%d expressions, %d distinct metrics, all exported", len(exprs), len(seen))
}
