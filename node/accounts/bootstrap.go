package accounts

import (
	"context"
	"fmt"
	"strings"

	"github.com/sanzi/sanzi/node/keys"
)

// AdminID is the id of the administrator a node creates at its first start.
const AdminID = "admin"

// EnsureAdmin creates the node's first account at its first start (no
// account in its chain yet): "admin", with the admin role and the node's
// org as scope, recorded by BootstrapAuthor. Its password is read from
// passwordFile when one is given (the file must be mode 0600, checked by
// keys.CheckSecret), or made up and returned for the caller to print once.
// Either way it must be changed at the first sign-in. On a node that has
// accounts already it does nothing and returns created false.
func (s *Service) EnsureAdmin(ctx context.Context, passwordFile string) (string, bool, error) {
	// A district member restarted with --bootstrap runs this before its
	// state has caught up with the cluster: its accounts look empty, and
	// making the administrator again would overwrite the password in use
	// (a sign-in changing it at another member lost its new password).
	// Reading the replicated password record first brings the state and
	// the accounts up to the leader's (replicatedSecrets.Get); at a node
	// it reads the local file.
	if _, _, err := s.creds.password(AdminID); err != nil {
		return "", false, fmt.Errorf("first administrator: read what the cluster holds: %w", err)
	}
	s.mu.RLock()
	n := len(s.st.accounts)
	s.mu.RUnlock()
	if n > 0 {
		return "", false, nil
	}
	pw := ""
	if passwordFile != "" {
		raw, err := keys.ReadSecret(passwordFile)
		if err != nil {
			return "", false, fmt.Errorf("first administrator: %w", err)
		}
		pw = strings.TrimRight(string(raw), "\r\n")
		if p := passwordProblem(pw); p != "" {
			return "", false, fmt.Errorf("first administrator: the password in %s %s", passwordFile, p)
		}
	}
	system := Principal{Account: BootstrapAuthor, Org: s.cfg.Org, Roles: []Role{RoleAdmin}}
	_, otp, err := s.create(ctx, BootstrapAuthor, system, NewAccount{ID: AdminID, Name: "管理员 Administrator", Org: s.cfg.Org, Roles: []Role{RoleAdmin}, Password: pw})
	if err != nil {
		return "", false, fmt.Errorf("first administrator: %w", err)
	}
	s.log.Info("created the first administrator", "event", "account.bootstrap", "account", AdminID, "org", s.cfg.Org, "passwordFromFile", passwordFile != "")
	return otp, true, nil
}
