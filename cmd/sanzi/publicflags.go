package main

import (
	"github.com/spf13/pflag"

	"github.com/sanzi/sanzi/federation/public"
)

// addPublicFlags are the public site's flags, the same at a district
// member and at a town with --public: whether the proofs are served, the
// limits per address, and the reverse proxies trusted for the client's
// address (read with public.ParseProxies).
func addPublicFlags(f *pflag.FlagSet, proofs *bool, lim *public.Limits, proxies *[]string) {
	f.BoolVar(proofs, "public-proofs", true, "serve on the public site (/public/) the signed entries of the chain segments that prove each published disclosure, so that anyone can run sanzi verify-public; each is served without its private part, so personal data is only masked in them (an entry recorded before that split which holds it unmasked is not served); --public-proofs=false serves pages and checkpoints only")
	f.Float64Var(&lim.PerSecond, "public-rate", 5, "requests a second one address may make of the public site (/public/), after --public-burst at once")
	f.IntVar(&lim.Burst, "public-burst", 60, "requests one address may make of the public site at once before --public-rate applies")
	f.StringSliceVar(proxies, "public-trusted-proxy", nil, "address or CIDR of a reverse proxy in front of the public site (repeat or comma-separate): its requests count against the client its X-Forwarded-For names, not against the proxy; every other peer's forwarding headers are ignored")
}
