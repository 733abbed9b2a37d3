package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/idgate/idgate/gateway/config"
	"github.com/idgate/idgate/gateway/ledger"
	"github.com/idgate/idgate/gateway/quota"
	"github.com/idgate/idgate/gateway/reconcile"
)

// errDiscrepancy makes the command exit 1 after printing its report: a
// nightly job alerts on it.
var errDiscrepancy = errors.New("the ledger and the statement do not agree")

// reconcileCmd is `gateway reconcile`: the ledger of the configured store
// against a statement file, for a day range.
func reconcileCmd(args []string) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML config file (default: the embedded demo config); its store is the ledger read")
	stPath := fs.String("statement", "", "the authority's statement, JSON (required)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (default: today in the configured time zone)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: from)")
	resolve := fs.Bool("resolve", true, "resolve unknown entries from the statement's per-request lines and record the resolutions")
	credential := fs.String("credential", "", "the statement's credential id to compare (default: that of the configured upstream token)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stPath == "" {
		return errors.New("reconcile: -statement is required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *from == "" {
		*from = quota.NewCalendar(cfg.Quota.Location()).Day(time.Now())
	}
	if *to == "" {
		*to = *from
	}
	if *credential == "" {
		*credential = reconcile.CredentialID(cfg.Upstream.Token.Reveal())
	}
	f, err := os.Open(*stPath)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	st, err := reconcile.ParseStatement(f)
	f.Close()
	if err != nil {
		return err
	}
	led, err := ledger.OpenReader(cfg.Store.Path)
	if err != nil {
		return err
	}
	defer led.Close()
	rep, err := reconcile.Run(context.Background(), led, st, *from, *to, *credential, *resolve)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.Write(os.Stdout)
	}
	if err != nil {
		return err
	}
	if rep.Discrepancies > 0 {
		return errDiscrepancy
	}
	return nil
}
