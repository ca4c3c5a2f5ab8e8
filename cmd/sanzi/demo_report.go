package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sanzi/sanzi/federation/public"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// What `sanzi demo` shows once ready, beyond the addresses: what the towns
// did while the villages recorded their year, what the district's public
// site publishes of each village, and how far the risk index sets the
// misbehaving villages apart.

// seededCounts reads a village's "seeded" line (demo_node.go).
func (v *demoVillage) seededCounts(f []string) {
	v.entries = fieldInt(f, "entries")
	v.townSteps, v.payments = fieldInt(f, "town"), fieldInt(f, "payments")
	v.disclosures, v.reviews = fieldInt(f, "disclosures"), fieldInt(f, "reviews")
}

// printTownWork sums what the towns decided while the villages recorded
// (nothing on a run that reused the data).
func printTownWork(out io.Writer, villages []*demoVillage) {
	var town, payments, disclosures, reviews int
	for _, v := range villages {
		town, payments, disclosures, reviews = town+v.townSteps, payments+v.payments, disclosures+v.disclosures, reviews+v.reviews
	}
	if town+reviews+disclosures == 0 {
		return
	}
	fmt.Fprintf(out, "Towns while the villages recorded: %d town steps decided (%d payments made), %d alert reviews; %d monthly disclosures published.\n",
		town, payments, reviews, disclosures)
}

// printPublished lists how many months the district's public site
// publishes for each village, ordinary and misbehaving apart.
func printPublished(ctx context.Context, out io.Writer, httpAddr string, villages []*demoVillage) {
	counts := map[villageProfile][]string{}
	for _, v := range villages {
		n, err := publishedMonths(ctx, httpAddr, v.org)
		if err != nil {
			fmt.Fprintf(out, "public site: %s: %v\n", v.org, err)
			return
		}
		counts[v.profile] = append(counts[v.profile], fmt.Sprintf("%s:%d", v.org, n))
	}
	fmt.Fprintf(out, "Public site http://%s/public/: months disclosed: ordinary %s; misbehaving %s\n", httpAddr,
		strings.Join(counts[profileOrdinary], " "), strings.Join(counts[profileMisbehaving], " "))
}

// publishedMonths is how many disclosures the public site lists for org.
func publishedMonths(ctx context.Context, httpAddr, org string) (int, error) {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(c, http.MethodGet, "http://"+httpAddr+public.Prefix+"v1/villages/"+org+"/disclosures", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	var l public.DisclosureList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&l); err != nil {
		return 0, err
	}
	return len(l.Disclosures), nil
}

// printRisk prints the ranking's top three and the scores of the
// ordinary villages (median) beside the misbehaving ones.
func printRisk(out io.Writer, risk []*sanziv1.RiskRow, villages []*demoVillage) {
	fmt.Fprintln(out, "Integrity-risk ranking, top three (sanzi stats risk):")
	for i, row := range risk[:min(3, len(risk))] {
		fmt.Fprintf(out, "  %d. %s %s score %.1f (%s)\n", i+1, row.GetOrg(), row.GetName(), row.GetScore(), row.GetLevel())
	}
	profile := map[string]villageProfile{}
	for _, v := range villages {
		profile[v.org] = v.profile
	}
	var ordinary []float64
	var bad []string
	for _, row := range risk {
		if profile[row.GetOrg()] == profileMisbehaving {
			bad = append(bad, row.GetOrg()+" "+strconv.FormatFloat(row.GetScore(), 'f', 1, 64))
		} else {
			ordinary = append(ordinary, row.GetScore())
		}
	}
	if len(ordinary) > 0 {
		sort.Float64s(ordinary)
		fmt.Fprintf(out, "  ordinary villages: median score %.1f (%d villages, highest %.1f); misbehaving: %s\n",
			median(ordinary), len(ordinary), ordinary[len(ordinary)-1], strings.Join(bad, ", "))
	}
}

// median of sorted xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
