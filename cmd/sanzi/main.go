// Command sanzi runs every role of the Sanzi system (village and town nodes, district members, the demo)
// and is the command line for people and scripts that use it. It only parses
// flags and calls the packages under node/; the work happens there.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// exitError carries an exit status other than 1 (or a message already
// printed) out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(ctx, os.Getenv("SANZI_CPUPROFILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sanzi:", err)
		os.Exit(1)
	}
	root := newRoot()
	err = root.ExecuteContext(ctx)
	stopProfile()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "sanzi:", err)
	os.Exit(1)
}

// globals are the flags every command shares.
type globals struct {
	server   string
	json     bool
	author   string
	logLevel string
	// token is the bearer token given with --token or SANZI_TOKEN; empty:
	// the one `sanzi login` saved for server.
	token string
	// serverCA is a PEM file of the CA that signed the node's TLS
	// certificate (--server-ca).
	serverCA string
	// store is where sign-ins are saved; nil: the user's config folder.
	store *tokenStore
}

func newRoot() *cobra.Command { return newRootFor(&globals{}) }

// newRootFor is the root command filling g from its flags.
func newRootFor(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "sanzi",
		Short: "Supervise the funds, assets and resources of rural collectives",
		Long: `sanzi runs the nodes of the Sanzi system and is the command line for the
people and scripts that use them.

A village node keeps the collective's books as a signed hash chain that works
offline; record transactions, contracts and assets with the commands below,
check the chain with "sanzi verify".

Every flag can also be set in the environment as SANZI_<FLAG>, upper case with
dashes as underscores: --server is SANZI_SERVER, --data is SANZI_DATA.
A flag given on the command line wins over the environment.

Every call to a node is made as a signed-in account: run "sanzi login" once
per node (the token is kept in your config folder, readable by you only),
or give a token with --token or SANZI_TOKEN. The node writes the signed-in
account into every entry as its author.

For finding where a process spends its time, SANZI_CPUPROFILE=FILE writes
a CPU profile (for "go tool pprof") each time the process gets SIGUSR1 and
when the command ends, of the span since the previous write: to FILE, then
FILE.2, FILE.3, … (a node killed with SIGKILL writes nothing after its
last SIGUSR1); a "%p" in FILE is replaced by the process id, so that every
process of a test run writes its own.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return bindEnv(cmd)
		},
	}
	root.PersistentFlags().StringVar(&g.server, "server", "127.0.0.1:7401", "gRPC address of the node to talk to")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print JSON for scripts instead of tables")
	root.PersistentFlags().StringVar(&g.author, "author", "", "optional: the account you expect to be signed in as; a node refuses the call if it is another (the node writes the signed-in account as the author). Offline commands (keys rotate, repair) and the district's chain commands record this name")
	root.PersistentFlags().StringVar(&g.token, "token", "", "bearer token to call the node with (default: the one `sanzi login` saved for --server)")
	root.PersistentFlags().StringVar(&g.serverCA, "server-ca", "", "PEM file of the CA that signed the node's TLS certificate (e.g. ca/ca.crt of `sanzi ca`); needed for a node beyond this machine unless the system trusts its certificate")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	root.AddCommand(
		newVillageCmd(g), newTownCmd(g), newTxCmd(g), newContractCmd(g), newAssetCmd(g), newReverseCmd(g), newVouchersCmd(g), newBooksCmd(g),
		newAttachCmd(g), newLedgerCmd(g), newKeysCmd(g), newVerifyCmd(g), newImportCmd(g), newDemoCmd(g), newCACmd(g), newDistrictCmd(g), newAlertsCmd(g), newRulesCmd(g), newWorkflowCmd(g), newCardsCmd(g), newStatsCmd(g), newStatementsCmd(g), newSyncCmd(g), newDirectivesCmd(g), newRepairCmd(g), newBackupCmd(g), newRestoreCmd(g),
		newLoginCmd(g), newLogoutCmd(g), newWhoAmICmd(g), newAccountsCmd(g),
		newVerifyPublicCmd(g),
	)
	return root
}

// bindEnv fills every flag not given on the command line from SANZI_<FLAG>.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "SANZI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// localAuthor is who an offline command (one that writes the node's data
// folder itself, with no node to sign in to) records as the author: --author,
// else the operating system's login name.
func (g *globals) localAuthor() string {
	if g.author != "" {
		return g.author
	}
	return osUser()
}

// osUser is the operating system's login name, so an offline entry names a
// person even when --author is not given.
func osUser() string {
	for _, v := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	if h, err := os.Hostname(); err == nil {
		return "user@" + h
	}
	return "unknown"
}
