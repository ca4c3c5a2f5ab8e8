package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/notify"
)

// notifyFlags are the notification flags of `village serve`, `town serve`
// and `district serve`: who holds each post, and the channels.
type notifyFlags struct {
	contactsFile, secretFile string
}

// add defines the flags on f, the channel settings going into s.
func (n *notifyFlags) add(f *pflag.FlagSet, s *notify.Setup) {
	f.StringVar(&n.contactsFile, "contacts", "", `JSON file naming who holds each post and how to reach them: {"350505100201/town.reviewer": [{"Name": "王五", "Email": "w@example.cn", "Webhook": "https://..."}], "*/village.head": [...]}; cards name them, notifications go to them`)
	f.StringVar(&n.secretFile, "webhook-secret-file", "", "file (mode 0600) holding the HMAC-SHA256 key that signs webhook notifications (X-Sanzi-Signature over X-Sanzi-Timestamp and the body); unset: no webhook channel")
	f.StringVar(&s.SMTPAddr, "smtp-addr", "", "host:port of the mail server for notifications; unset: no mail channel")
	f.StringVar(&s.SMTPFrom, "smtp-from", "三资监管 <sanzi@localhost>", "sender of notification mail")
	f.BoolVar(&s.SMTPRequireTLS, "smtp-require-tls", false, "refuse to send mail to a server that does not offer STARTTLS (the delivery fails and is retried), so the upgrade cannot be stripped on the way")
}

// load reads the contacts and the webhook secret the flags name into s.
func (n *notifyFlags) load(s *notify.Setup) error {
	if n.contactsFile != "" {
		raw, err := os.ReadFile(n.contactsFile)
		if err != nil {
			return fmt.Errorf("--contacts: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s.Contacts); err != nil {
			return fmt.Errorf("--contacts %s: want {\"org/post\": [{\"Name\": ..., \"Email\": ..., \"Webhook\": ...}]} (\"*/post\" for every org): %w", n.contactsFile, err)
		}
	}
	if n.secretFile != "" {
		raw, err := keys.ReadSecret(n.secretFile) // refused when group or others may read it
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		if s.WebhookSecret = bytes.TrimSpace(raw); len(s.WebhookSecret) < 16 {
			return fmt.Errorf("--webhook-secret-file %s: the secret must be at least 16 bytes", n.secretFile)
		}
	}
	return nil
}
