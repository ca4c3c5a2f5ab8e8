package accounts

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the accounts package; compare with errors.Is. node/api maps them
// to gRPC codes (Unauthenticated, PermissionDenied, NotFound, AlreadyExists,
// ResourceExhausted with RetryInfo, FailedPrecondition). Field errors are
// *books.InvalidError and *books.ConflictError, as for every other request.
var (
	// ErrPermissionDenied: the caller is signed in but may not do this (a
	// non-admin managing accounts, an org outside the caller's scope).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrCSRF: a state-changing browser request without the CSRF token of
	// its session, or with another one. It is a permission denial (403).
	ErrCSRF = fmt.Errorf("%w: missing or wrong CSRF token for this session", ErrPermissionDenied)
	// ErrNotFound: no account or token with that id.
	ErrNotFound = errors.New("accounts: not found")
	// ErrExists: an account with that id already exists.
	ErrExists = errors.New("accounts: already exists")
	// ErrThrottled: too many failed sign-ins for the account or from the
	// client address; the error is a *ThrottledError saying when to retry.
	ErrThrottled = errors.New("accounts: too many failed sign-ins")
	// ErrPasswordChangeRequired: the password was right but is a one-time
	// password (new account, reset, first start); sign in again with a new
	// password to get a token or session.
	ErrPasswordChangeRequired = errors.New("accounts: password must be changed at this sign-in")
)

// ThrottledError refuses a sign-in attempt without checking its password.
// It matches ErrThrottled; RetryAfter is what a 429's Retry-After says.
type ThrottledError struct {
	// RetryAfter is how long until the next attempt is taken.
	RetryAfter time.Duration
	// By is what is throttled: "account" or "address".
	By string
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v for this %s; try again in %s", ErrThrottled, e.By, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }
