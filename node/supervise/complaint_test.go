package supervise_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/town"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTownOpensAndAnswersComplaints (issue 15): a villager's complaint in
// the district's chain, addressed to the town, opens GOV-COMPLAINT in the
// town's own chain once (also across a restart); one addressed to another
// town opens nothing; the desk opens the contact sealed to the town's key;
// the last step is refused until a reply is recorded; a complaint nobody
// answers is COMPLAINT-LATE after its ten days.
func TestTownOpensAndAnswersComplaints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const district = "350505000000"
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{townOrg, district}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func() (node, func()) {
		return openOrgBooks(t, dir, keysDir, orgs, []string{townOrg}, clock, nil, false)
	}
	n, closeN := open()
	ring, err := keys.Load(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	townPub, _ := ring.Public(townOrg)
	townKey, _ := ring.Private(townOrg)
	file := func(t *testing.T, number, village, contact string) string {
		t.Helper()
		c := &sanziv1.Complaint{Number: number, Village: village, Town: village[:9] + "000", Category: "finance",
			Text: "修路款去向不明，我的电话13800135678", Posts: []string{"village.head"}, SecretHash: complaint.SecretHash(number, "S")}
		if contact != "" {
			if c.ContactSealed, err = complaint.Seal(townPub, []byte(contact)); err != nil {
				t.Fatal(err)
			}
		}
		payload, _ := proto.Marshal(c)
		// The district's chain as the town holds it after a pull.
		out, err := n.Ledger().Append(ctx, ledger.Record{Origin: district, Author: "public", Type: sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Follow(ctx); err != nil {
			t.Fatal(err)
		}
		return out[0].ID()
	}
	complaintProcs := func() []*sanziv1.ProcedureRecord {
		recs, _, _, err := n.Procedures(workflow.Filter{Org: townOrg, Matter: complaint.Matter}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	first := file(t, "20261102-000001", "350505100201", "王五 13800135678")
	file(t, "20261102-000002", "350505200201", "") // another town's village
	procs := complaintProcs()
	if len(procs) != 1 || procs[0].GetProcedure().GetSubjectId() != first || procs[0].GetOpenStep() != "register" ||
		procs[0].GetEntry().GetOrigin() != townOrg {
		t.Fatalf("procedures opened at the town: %v", procs)
	}
	pid := procs[0].GetEntry().GetId()
	closeN()
	n, closeN = open()
	defer closeN()
	if again := complaintProcs(); len(again) != 1 {
		t.Fatalf("after a restart: %d complaint procedures, want the one", len(again))
	}

	desk := town.NewDesk(n.Books, n.Supervisor, townKey)
	list, err := desk.List(ctx, "")
	if err != nil || len(list) != 1 {
		t.Fatalf("desk: %v %v", list, err)
	}
	if got := list[0]; got.GetContact() != "王五 13800135678" || len(got.GetComplaint().GetContactSealed()) != 0 ||
		got.GetProcedure().GetEntry().GetId() != pid {
		t.Fatalf("the desk's complaint: contact %q, sealed %d bytes, procedure %v", got.GetContact(), len(got.GetComplaint().GetContactSealed()), got.GetProcedure())
	}

	decide := func(step, post string) error {
		_, _, err := n.DecideStep(ctx, "镇审核员", &sanziv1.StepDecision{Org: townOrg, ProcedureId: pid, StepCode: step, Post: post,
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE})
		return err
	}
	for _, s := range [][2]string{{"register", "town.reviewer"}, {"investigate", "town.reviewer"}} {
		if err := decide(s[0], s[1]); err != nil {
			t.Fatalf("%s: %v", s[0], err)
		}
	}
	var inv *books.InvalidError
	if err := decide("reply", "town.leader"); !errors.As(err, &inv) || !strings.Contains(err.Error(), "reply") {
		t.Fatalf("closing without a reply: %v, want refused until a reply is recorded", err)
	}
	if _, _, err := desk.Reply(ctx, "镇分管领导", &sanziv1.ComplaintReply{ComplaintId: first, Text: "  "}); !errors.As(err, &inv) {
		t.Fatalf("an empty reply: %v", err)
	}
	if _, _, err := desk.Reply(ctx, "镇分管领导", &sanziv1.ComplaintReply{ComplaintId: "350505000000-99", Text: "已核实"}); !errors.As(err, &inv) {
		t.Fatalf("a reply to no complaint: %v", err)
	}
	st, rec, err := desk.Reply(ctx, "镇分管领导", &sanziv1.ComplaintReply{ComplaintId: first, Text: "经核实，修路款已按合同支付，凭证已公开。"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Origin != townOrg || len(rec.GetReplies()) != 1 || rec.GetReplies()[0].GetReply().GetStepCode() != "reply" {
		t.Fatalf("the reply: %v", rec)
	}
	if err := decide("reply", "town.leader"); err != nil {
		t.Fatalf("closing with a reply: %v", err)
	}
	if done, _ := desk.List(ctx, "completed"); len(done) != 1 {
		t.Fatalf("completed complaints: %v", done)
	}
	if _, _, err := desk.Reply(ctx, "镇分管领导", &sanziv1.ComplaintReply{ComplaintId: first, Text: "补充"}); err == nil {
		t.Fatal("a reply to a closed complaint was taken")
	}

	// Its photo, fetched from the district: refused when the district's
	// answer is not the photo named, stored and locked when it is.
	photo := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("a road")...)
	withPhoto := func() string {
		sum := sha256.Sum256(photo)
		c := &sanziv1.Complaint{Number: "20261102-000004", Village: "350505100201", Town: townOrg, Category: "works", Text: "照片",
			Photos: []string{hex.EncodeToString(sum[:])}, SecretHash: complaint.SecretHash("20261102-000004", "S")}
		payload, _ := proto.Marshal(c)
		// Sealed by the district and stored verbatim, as a pull stores it:
		// the town holds none of its photos yet.
		dkey, _ := ring.Private(district)
		st, err := ledger.Seal(dkey, n.Ledger().Head(district), ledger.Record{Origin: district, Author: "public", Type: sanziv1.EntryType_ENTRY_TYPE_COMPLAINT, Payload: payload}, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Ledger().Append(ctx, ledger.Record{Raw: st.Raw}); err != nil {
			t.Fatal(err)
		}
		return st.ID()
	}()
	from := func(content []byte) town.PhotoSource {
		return func(context.Context, string) (*sanziv1.Attachment, []byte, error) {
			return &sanziv1.Attachment{FileName: "road.jpg"}, content, nil
		}
	}
	if got, err := desk.FetchPhotos(ctx, from([]byte{0xFF, 0xD8, 0xFF, 'x'})); got != 0 || err == nil {
		t.Fatalf("a photo that is not the one named: %d stored, %v", got, err)
	}
	if got, err := desk.FetchPhotos(ctx, from(photo)); got != 1 || err != nil {
		t.Fatalf("fetch the photo: %d, %v", got, err)
	}
	sum := sha256.Sum256(photo)
	if a, err := n.Attachments().Describe(hex.EncodeToString(sum[:])); err != nil || a.GetLockedBy() != withPhoto || a.GetContentType() != "image/jpeg" {
		t.Fatalf("the photo at the town: %v %v", a, err)
	}
	if got, err := desk.FetchPhotos(ctx, from(nil)); got != 0 || err != nil {
		t.Fatalf("fetched again: %d, %v", got, err)
	}

	// A second complaint nobody answers.
	second := file(t, "20261102-000003", "350505100202", "")
	if _, err := n.Sweep(ctx, cstTime("2026-11-12 23:00")); err != nil {
		t.Fatal(err)
	}
	late := func() []*sanziv1.AlertRecord {
		recs, _, _, err := n.ListAlerts(books.AlertFilter{RuleCode: "COMPLAINT-LATE"}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if got := late(); len(got) != 0 {
		t.Fatalf("COMPLAINT-LATE within the ten days: %v", got)
	}
	clock.Set(cstTime("2026-11-13 09:00"))
	if _, err := n.Sweep(ctx, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The two left unanswered (the one with the photo, and the second)
	// are late; the answered one is not.
	want := map[string]bool{}
	for _, p := range complaintProcs() {
		if s := p.GetProcedure().GetSubjectId(); s == second || s == withPhoto {
			want[p.GetEntry().GetId()] = true
		}
	}
	got := late()
	for _, a := range got {
		delete(want, a.GetSubjectId())
	}
	if len(got) != 2 || len(want) != 0 {
		t.Fatalf("COMPLAINT-LATE after ten days: %v, want one about each unanswered complaint", got)
	}
}
