package notify

import (
	"fmt"
	"strings"
	"time"
)

// Setup is how a node's notifications go out, as its operator configures
// it (`sanzi village|town|district serve` --contacts, --webhook-secret-file,
// --smtp-*): a village or town node and a district member build their
// channels from it the same way.
type Setup struct {
	// Contacts names the people holding each post ("org/post", or "*/post"
	// for every org) and how to reach them: cards name them, notifications
	// go to them. Nil names and tells nobody.
	Contacts StaticContacts
	// WebhookSecret signs webhook notifications (HMAC-SHA256); empty turns
	// the webhook channel off.
	WebhookSecret []byte
	// SMTPAddr (host:port) and SMTPFrom turn on the mail channel.
	SMTPAddr, SMTPFrom string
	// SMTPRequireTLS refuses a mail server that does not offer STARTTLS.
	SMTPRequireTLS bool
}

// Channels are the channels the setup turns on, webhook first; none when
// neither a webhook secret nor a mail server is set. now stamps webhook
// requests (nil: time.Now).
func (s Setup) Channels(now func() time.Time) []Channel {
	var out []Channel
	if len(s.WebhookSecret) > 0 {
		out = append(out, &Webhook{Secret: s.WebhookSecret, Now: now})
	}
	if s.SMTPAddr != "" {
		out = append(out, &SMTP{Addr: s.SMTPAddr, From: s.SMTPFrom, RequireTLS: s.SMTPRequireTLS})
	}
	return out
}

// AlertPosts says who hears of an alert of each severity (DOMAIN.md): a
// yellow alert goes to the village and the town, a red one (TAMPER among
// them, wherever it is found) to the town and the district. Posts are
// named by tier; PostOrg gives the org that holds one for a village.
var AlertPosts = map[string][]string{
	"info":   {"village.head"},
	"yellow": {"village.head", "town.reviewer"},
	"red":    {"town.reviewer", "town.leader", "district.discipline"},
}

// PostOrg is the org holding post (e.g. "town.reviewer") for village, a
// 12-digit org code: the village itself, its town (9 digits and 000) or
// its district (6 digits and six zeros).
func PostOrg(village, post string) string {
	if len(village) != 12 {
		return village
	}
	switch tier, _, _ := strings.Cut(post, "."); tier {
	case "town":
		return village[:9] + "000"
	case "district":
		return village[:6] + "000000"
	}
	return village
}

// TamperID is the alert id of a TAMPER finding about origin's entry at seq
// whose pushed bytes hash to sentHash: the same finding gives the same id
// on every member and after any restart, so its messages' IDs (AlertMessage
// adds kind and post) are the idempotency keys of its deliveries.
func TamperID(origin string, seq uint64, sentHash string) string {
	return fmt.Sprintf("TAMPER-%s-%d-%s", origin, seq, sentHash)
}
