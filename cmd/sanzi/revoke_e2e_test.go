package main

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/federation/fsm"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	"github.com/sanzi/sanzi/node/relay"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestRevokeAndRekey: a village's key is revoked at the district; the
// village's next push is refused at the town, and the same entries pushed
// straight to the district with the stolen key are refused there, each side
// saying so in `sanzi sync status`. The village gets a new certificate and
// re-keys (the rotation signed by the new key, since the old one is
// revoked); its chain, with the entries refused meanwhile, goes on up to the
// district. A routine rekey later is signed by the old key. `sanzi verify`
// passes on the village's, the town's and the district's copy, across both
// rotations.
func TestRevokeAndRekey(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	must := func(out string, code int) string {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
		return out
	}
	const town, vorg = "350505100000", "350505100201"
	must(run(t, "ca", "init", "--district", "350505", "--dir", caDir))
	for _, n := range []string{"d1", "admin"} {
		must(run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", n))
	}
	must(run(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town"))
	must(run(t, "ca", "issue", "--dir", caDir, "--org", vorg, "--role", "village"))
	stolen, err := pki.LoadIssued(caDir, vorg) // what the thief copied
	if err != nil {
		t.Fatal(err)
	}
	oldFP := keys.Fingerprint(stolen.Key.Public().(ed25519.PublicKey))

	dhttp := freePort(t)
	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = []string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--http", dhttp, "--data", d.data,
		"--tls-dir", caDir, "--cert", "d1", "--bootstrap", "--log-level", "warn", "--chain-cert", "admin"} // `district revoke` signs with admin's key too
	d.start()
	t.Cleanup(d.stop)
	district := clientFor(t, caDir, d.api)
	waitLeader(t, district, "")
	tw, v, _ := startTownAndVillage(t, dir, caDir, d.api, town, vorg)
	defer func() {
		if t.Failed() {
			for _, n := range []*syncVillage{tw, v} {
				out, _ := run(t, "sync", "status", "--http", n.http)
				t.Logf("%s: %s\n%s", n.org, out, tail(n.log.String()))
			}
		}
	}()
	districtHead := func(origin string) uint64 {
		h, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: origin})
		if err != nil {
			return 0
		}
		return h.GetHead().GetSeq()
	}
	status := func(http string) string {
		out, code := run(t, "sync", "status", "--http", http)
		if code != 0 {
			t.Fatalf("sync status of %s: %s", http, out)
		}
		return out
	}

	v.record(5, 1)
	trusted := v.head()
	eventually(t, 60*time.Second, "the village's first entries at the district", func() bool { return districtHead(vorg) == trusted })

	t.Run("revoke at the district", func(t *testing.T) {
		out := must(run(t, "district", "revoke", "--origin", vorg, "--key", oldFP, "--reason", "key copied from the village PC",
			"--server", d.api, "--tls-dir", caDir))
		if want := regexp.MustCompile(`revoked key ` + oldFP + ` of ` + vorg + ` after seq \d+ \(350505000000-\d+\)`); !want.MatchString(out) {
			t.Fatalf("district revoke: %s", out)
		}
		if !strings.Contains(out, "after seq "+itoa(trusted)) {
			t.Fatalf("revocation point is not the district's head %d: %s", trusted, out)
		}
		out, _ = run(t, "district", "revoke", "--origin", vorg, "--key", "not-a-key", "--reason", "x", "--server", d.api, "--tls-dir", caDir)
		if !strings.Contains(out, "--key") {
			t.Fatalf("a malformed fingerprint: %s", out)
		}
		eventually(t, 30*time.Second, "the town to enforce the revocation it pulled", func() bool {
			return strings.Contains(status(tw.http), "revoked key "+oldFP+" of "+vorg)
		})
	})

	t.Run("next push refused at the town", func(t *testing.T) {
		v.record(2, 100)
		eventually(t, 30*time.Second, "the village to show the refusal", func() bool {
			return strings.Contains(status(v.http), "REFUSED by the parent (KEY_REVOKED)")
		})
		out := status(v.http)
		if !strings.Contains(out, "revoked by the district after seq "+itoa(trusted)) || !strings.Contains(out, "key copied from the village PC") {
			t.Fatalf("the village's sync status does not name the revocation:\n%s", out)
		}
		if out := status(tw.http); !strings.Contains(out, "refused "+vorg+" (KEY_REVOKED)") {
			t.Fatalf("the town's sync status does not show the refused push:\n%s", out)
		}
		if h := districtHead(vorg); h != trusted {
			t.Fatalf("district head of %s moved to %d past the revocation point %d", vorg, h, trusted)
		}
		t.Logf("village sync status while revoked:\n%s", out)
	})

	t.Run("stolen key refused at the district", func(t *testing.T) {
		var raws [][]byte
		vn := &node{t: t, http: v.http}
		for seq := trusted + 1; seq <= v.head(); seq++ {
			_, body := vn.call("GET", "/v1/ledger/"+vorg+"/entries?fromSeq="+itoa(seq)+"&limit=1", "", nil, nil)
			raws = append(raws, entryRaw(t, body))
		}
		err := syncPush(t, d.api, caDir, stolen, raws)
		if reason, ok := relay.RefusedFor(err); !ok || reason != relay.ReasonKeyRevoked || !strings.Contains(err.Error(), "revoked by the district") {
			t.Fatalf("the stolen key's push at the district: %v, want a KEY_REVOKED refusal", err)
		}
		out := status(dhttp)
		if !strings.Contains(out, "refused "+vorg+" (KEY_REVOKED)") || !strings.Contains(out, "revoked key "+oldFP+" of "+vorg+" after seq "+itoa(trusted)) {
			t.Fatalf("the district's sync status:\n%s", out)
		}
		t.Logf("district sync status:\n%s", out)
	})

	var final uint64
	t.Run("re-keyed village continues", func(t *testing.T) {
		eventually(t, 30*time.Second, "the village to hold the district's revocation", func() bool {
			return districtHead("350505000000") > 0 && strings.Contains(status(v.http), "pulled 350505000000: head "+itoa(districtHead("350505000000")))
		})
		refused := v.head()
		v.kill9()
		must(run(t, "ca", "issue", "--dir", caDir, "--org", vorg, "--role", "village")) // the new certificate, in place of the old
		out := must(run(t, "village", "rekey", "--data", v.data, "--tls-dir", caDir, "--org", vorg, "--reason", "old key stolen"))
		if !strings.Contains(out, "key rotation "+vorg+"-"+itoa(refused+1)+" to key") || !strings.Contains(out, "signed by the new key and its certificate") ||
			!strings.Contains(out, "the district revoked key "+oldFP) {
			t.Fatalf("village rekey: %s", out)
		}
		t.Logf("sanzi village rekey:\n%s", out)
		again := must(run(t, "village", "rekey", "--data", v.data, "--tls-dir", caDir, "--org", vorg))
		if strings.Contains(again, "key rotation") {
			t.Fatalf("a second rekey with the same certificate rotated again: %s", again)
		}
		v.start()
		v.record(2, 200)
		eventually(t, 60*time.Second, "the re-keyed village's chain at the district", func() bool { return districtHead(vorg) == v.head() })
		if out := status(v.http); strings.Contains(out, "REFUSED") {
			t.Fatalf("still refused after the rekey:\n%s", out)
		}
		final = v.head()
		t.Logf("the district holds %s up to %d: trusted up to %d, %d refused then kept by the rotation at %d, %d under the new key",
			vorg, final, trusted, refused-trusted, refused+1, final-refused-1)
		if final <= refused+1 {
			t.Fatalf("village head %d: nothing recorded after the rotation at %d", final, refused+1)
		}
	})

	t.Run("routine rekey signed by the old key", func(t *testing.T) {
		before := v.head()
		v.kill9()
		must(run(t, "ca", "issue", "--dir", caDir, "--org", vorg, "--role", "village"))
		out := must(run(t, "village", "rekey", "--data", v.data, "--tls-dir", caDir, "--org", vorg, "--reason", "yearly"))
		if !strings.Contains(out, "key rotation "+vorg+"-"+itoa(before+1)) || !strings.Contains(out, "signed by the old key") {
			t.Fatalf("village rekey: %s", out)
		}
		v.start()
		v.record(1, 300)
		eventually(t, 60*time.Second, "the chain after a routine rotation at the district", func() bool { return districtHead(vorg) == v.head() })
		final = v.head()
	})

	t.Run("verify every chain", func(t *testing.T) {
		tw.kill9()
		v.kill9()
		d.stop()
		for _, data := range []string{v.data, tw.data} {
			out, code := run(t, "verify", "--data", data, "--tls-dir", caDir)
			if code != 0 || !strings.Contains(out, "all chains verify") {
				t.Fatalf("sanzi verify --data %s: exit %d\n%s", data, code, out)
			}
		}
		out, code := run(t, "verify", "--data", v.data)
		if code == 0 || !strings.Contains(out, "needs the district CA") {
			t.Fatalf("sanzi verify without the CA passed a rotation it cannot check: %s", out)
		}
		state := filepath.Join(d.data, "state.db")
		f, err := fsm.Open(fsm.Config{Path: state})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		pool, err := pki.LoadPool(caDir)
		if err != nil {
			t.Fatal(err)
		}
		counts, problems, err := ledger.VerifyWith(state, f, pki.Rotation(pool))
		if err != nil || len(problems) > 0 || counts[vorg] != int(final) {
			t.Fatalf("verify the district's state: counts %v problems %v err %v", counts, problems, err)
		}
	})
}

// syncPush pushes raws in one batch to the SyncService at addr as the node
// of iss (over mutual TLS with the district CA in caDir) and returns the
// parent's answer to it.
func syncPush(t *testing.T, addr, caDir string, iss *pki.Issued, raws [][]byte) error {
	t.Helper()
	pool, err := pki.LoadPool(caDir)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ClientConfig(pool, iss.TLSCertificate(), nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := sanziv1.NewSyncServiceClient(conn).SyncPush(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&sanziv1.SyncPushRequest{Entries: raws}); err != nil {
		_, err = stream.Recv()
		return err
	}
	_, err = stream.Recv()
	return err
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// entryRaw is the encoded entry of a one-entry ListEntries reply (JSON).
func entryRaw(t *testing.T, body []byte) []byte {
	t.Helper()
	var page sanziv1.ListEntriesResponse
	if err := protojson.Unmarshal(body, &page); err != nil || len(page.GetEntries()) != 1 {
		t.Fatalf("read one entry: %v %s", err, body)
	}
	raw, err := proto.Marshal(page.GetEntries()[0].GetEntry())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// startTownAndVillage starts a town under the district member at
// districtAPI and one village under that town, each its own process (data
// in dir/town and dir/v), killed at the test's end; inbox is the town's
// sync address its villages push to.
func startTownAndVillage(t *testing.T, dir, caDir, districtAPI, town, vorg string) (tw, v *syncVillage, inbox string) {
	t.Helper()
	inbox = freePort(t)
	tw = &syncVillage{t: t, org: town, data: filepath.Join(dir, "town"), http: freePort(t), grpc_: freePort(t)}
	tw.args = []string{"town", "serve", "--data", tw.data, "--org", town, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
		"--sync-addr", inbox, "--parent", districtAPI, "--tls-dir", caDir, "--log-level", "warn", "--retry-max", "1s"}
	tw.start()
	t.Cleanup(func() { tw.kill9() })
	v = &syncVillage{t: t, org: vorg, data: filepath.Join(dir, "v"), http: freePort(t), grpc_: freePort(t)}
	v.args = []string{"village", "serve", "--data", v.data, "--org", vorg, "--http-addr", v.http, "--grpc-addr", v.grpc_,
		"--parent", inbox, "--tls-dir", caDir, "--log-level", "warn", "--retry-max", "1s"}
	v.start()
	t.Cleanup(func() { v.kill9() })
	return tw, v, inbox
}
