package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTownPublicSite (issue 15: the site is served "by a town for its
// villages when asked to") runs a real 3-member district, a town with
// --public and a village as processes on loopback. The village discloses a
// month; the town, from its own copy of the village's chain and the
// district's signed checkpoints it pulled over ListCheckpoints, serves the
// village's page, masked, and `sanzi verify-public` against the TOWN's URL
// proves it. A district (here a fake one with a district certificate of
// the CA) that hands the town a checkpoint signed with another key is
// refused: the town logs it, counts it, and serves the checkpoints it had.
func TestTownPublicSite(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: a district, a town and a village")
	}
	// A generous rate: the test polls the town for the month under load.
	// The district's public address, for the village pages' complaint
	// links (the members' own are not known before they start).
	const districtSite = "https://gongkai.qu.example.cn"
	w := startPublicWorldWith(t, nil, []string{"--public", "--public-proofs", "--public-poll", "1s", "--public-rate", "100", "--public-burst", "1000",
		"--public-district-url", districtSite + "/"})
	const village = pwVillage
	townURL := "http://" + w.tw.http

	t.Run("openapi names the public routes at the town only", func(t *testing.T) {
		_, townDoc := httpGet(t, townURL+"/openapi.json")
		_, villageDoc := httpGet(t, "http://"+w.v.http+"/openapi.json")
		for _, route := range []string{`"/public/v1/checkpoints"`, `"/public/v1/villages/{code}/disclosures/{period}"`, `"/public/v1/chains/{origin}/entries"`} {
			if !bytes.Contains(townDoc, []byte(route)) {
				t.Errorf("the town's /openapi.json (--public) lacks %s", route)
			}
			if bytes.Contains(villageDoc, []byte(route)) {
				t.Errorf("the village's /openapi.json (no public site) names %s", route)
			}
		}
		if code, _ := httpGet(t, "http://"+w.v.http+"/public/v1/key"); code == 200 {
			t.Errorf("the village serves /public/v1/key")
		}
	})

	m := w.discloseMonth(t)

	var latest uint64
	t.Run("the town shows the month, masked, with a proof", func(t *testing.T) {
		var pub struct {
			Proof struct {
				Checkpoint uint64 `json:"checkpoint"`
			} `json:"proof"`
		}
		eventually(t, 60*time.Second, "the town to serve the month with a checkpoint", func() bool {
			code, body := httpGet(t, townURL+"/public/v1/villages/"+village+"/disclosures/"+m.period)
			return code == 200 && json.Unmarshal(body, &pub) == nil && pub.Proof.Checkpoint > 0
		})
		code, body := httpGet(t, townURL+"/public/villages/"+village)
		page := string(body)
		if code != 200 || len(body) > 200<<10 {
			t.Fatalf("the town's page of %s: %d, %d bytes", village, code, len(body))
		}
		for _, want := range []string{"新村 财务公开", "城关镇", "张**", "12,345.00", "5,000.00", "链段",
			`href="` + districtSite + `/public/villages/` + village + `/complaints/new"`, `href="` + districtSite + `/public/complaints/check"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the town's village page lacks %q", want)
			}
		}
		// The complaint section links the district's form: no form here.
		for _, never := range []string{"张三丰", m.resident, m.bankAcct, m.phone, "我要投诉", `href="/public/villages/` + village + `/complaints/new"`, "<form"} {
			if strings.Contains(page, never) {
				t.Errorf("the town's village page shows %q", never)
			}
		}
		// Only its own villages: one of another town is not there.
		if code, _ := httpGet(t, townURL+"/public/villages/350505200201"); code != 404 {
			t.Errorf("another town's village at this town: %d, want 404", code)
		}
		if code, _ := httpGet(t, townURL+"/public/complaints/check"); code != 404 {
			t.Errorf("the complaint status route at the town: %d, want 404 (complaints are filed at the district)", code)
		}
		var cp struct {
			Number uint64 `json:"number"`
		}
		_, b := httpGet(t, townURL+"/public/v1/checkpoints/latest")
		if err := json.Unmarshal(b, &cp); err != nil || cp.Number < pub.Proof.Checkpoint {
			t.Fatalf("the town's latest checkpoint: %s (%v)", b, err)
		}
		latest = cp.Number
		t.Logf("the village page at the town: %d bytes; the month proved by checkpoint %d; the town keeps %d", len(body), pub.Proof.Checkpoint, latest)
	})

	fpOut, code := run(t, "district", "fingerprint", "--tls-dir", w.caDir, "--cert", "admin")
	fp := regexp.MustCompile(`fingerprint: ([0-9a-f:]+)`).FindStringSubmatch(fpOut)
	if code != 0 || fp == nil {
		t.Fatalf("district fingerprint: %d %s", code, fpOut)
	}
	t.Run("verify-public passes against the town", func(t *testing.T) {
		out, code := run(t, "verify-public", "--fingerprint", fp[1], townURL+"/public/villages/"+village)
		if code != 0 || !strings.Contains(out, "verify-public: OK") || !strings.Contains(out, "matches the one given") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		t.Logf("sanzi verify-public %s/public/villages/%s:\n%s", townURL, village, out)
	})

	t.Run("a checkpoint signed with another key is refused", func(t *testing.T) {
		must := func(out string, code int) {
			t.Helper()
			if code != 0 {
				t.Fatal(out)
			}
		}
		must(run(t, "ca", "issue", "--dir", w.caDir, "--org", pwDistrict, "--role", "district", "--name", "fake"))
		fake := &resigningDistrict{t: t, member: "http://" + w.httpOf["d1"], key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))}
		addr := fake.serve(w.caDir)
		// The town again, over the same data folder, its parent the fake.
		w.tw.kill9()
		i := slices.Index(w.tw.args, "--parent")
		w.tw.args[i+1] = addr
		w.tw.start()
		refused := func() float64 {
			_, body := httpGet(t, townURL+"/metrics")
			var n float64
			for _, l := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(l, `sanzi_town_checkpoints_refused_total{reason="signature"} `) {
					fmt.Sscan(strings.Fields(l)[1], &n)
				}
			}
			return n
		}
		eventually(t, 30*time.Second, "the town to refuse the re-signed checkpoint", func() bool { return refused() >= 1 })
		if fake.served.Load() == 0 {
			t.Fatal("the fake district served no checkpoint, yet the town counts a refusal")
		}
		var cp struct {
			Number uint64 `json:"number"`
		}
		_, b := httpGet(t, townURL+"/public/v1/checkpoints/latest")
		if err := json.Unmarshal(b, &cp); err != nil || cp.Number != latest {
			t.Fatalf("the town's latest checkpoint after the refusal: %s (%v), want still %d", b, err, latest)
		}
		if code, _ := httpGet(t, fmt.Sprintf("%s/public/v1/checkpoints/%d", townURL, latest+1)); code != 404 {
			t.Fatalf("checkpoint %d (the re-signed one) at the town: %d, want 404", latest+1, code)
		}
		if !strings.Contains(w.tw.log.String(), "refused a checkpoint from the district") {
			t.Fatalf("the town did not log the refusal:\n%s", w.tw.log.String())
		}
		if out, code := run(t, "verify-public", "--fingerprint", fp[1], townURL+"/public/villages/"+village); code != 0 {
			t.Fatalf("the town's page after the refusal: exit %d\n%s", code, out)
		}
		t.Logf("the town refused %v checkpoint(s) signed with key %s and still serves checkpoint %d", refused(),
			checkpoint.Fingerprint(fake.key.Public().(ed25519.PublicKey)), latest)
	})
}

// resigningDistrict is a district that lies to a town: asked for the
// checkpoints after n, it answers one that follows a real member's
// checkpoint n in every way but its signature, made with another key.
type resigningDistrict struct {
	sanziv1.UnimplementedDistrictServiceServer
	t      *testing.T // for serve only
	member string     // a real member's HTTP address, whose checkpoints it follows
	key    ed25519.PrivateKey
	served atomic.Int64
}

// serve listens on loopback with the CA's district certificate "fake", for
// town certificates; it stops with the test.
func (d *resigningDistrict) serve(caDir string) string {
	pool, err := pki.LoadPool(caDir)
	if err != nil {
		d.t.Fatal(err)
	}
	iss, err := pki.LoadIssued(caDir, "fake")
	if err != nil {
		d.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		d.t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerConfig(pool, iss.TLSCertificate(), pki.AllowRoles(pki.RoleTown)))))
	sanziv1.RegisterDistrictServiceServer(srv, d)
	go srv.Serve(ln)
	d.t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func (d *resigningDistrict) ListCheckpoints(ctx context.Context, r *sanziv1.ListCheckpointsRequest) (*sanziv1.ListCheckpointsResponse, error) {
	var cp struct {
		Statement string `json:"statement"`
	}
	// Not httpGet: this runs on a server goroutine, where t.Fatal may not.
	resp, err := http.Get(fmt.Sprintf("%s/public/v1/checkpoints/%d", d.member, r.GetAfter()))
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %d at the member: %s", r.GetAfter(), body)
	}
	prev, err := checkpoint.Parse([]byte(cp.Statement))
	if err != nil {
		return nil, err
	}
	next := *prev
	next.Number, next.Prev = prev.Number+1, prev.Sum()
	s := checkpoint.Sign(&next, d.key)
	d.served.Add(1)
	return &sanziv1.ListCheckpointsResponse{Checkpoints: []*sanziv1.SignedCheckpoint{{Statement: s.Text, Signature: s.Signature}},
		Latest: next.Number}, nil
}
