package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/bulk"
	"github.com/codat-migrate/codat/bulk/pgstore"
)

// envStore names the environment variable that --store defaults to.
const envStore = "CODAT_MIGRATE_STORE"

// storeFlags select a shared store instead of the journal file.
type storeFlags struct {
	url   string
	run   string
	lease time.Duration
}

func (sf *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.url, "store", "", "shared `store` instead of the journal file: postgres://user@host/db (default $"+envStore+"; the password from PGPASSWORD or ~/.pgpass)")
	fs.StringVar(&sf.run, "run", "", "the run's `name` in the store: every runner of one migration uses the same (default: the export's file name)")
	fs.DurationVar(&sf.lease, "lease", pgstore.DefaultLease, "with --store: how long a runner's claim on a ref outlives the runner (a runner that dies leaves its refs to the others after this)")
}

// resolve fills the store from the environment; it reports whether a store
// is used.
func (sf *storeFlags) resolve(a *app) (bool, error) {
	if sf.url == "" {
		sf.url = strings.TrimSpace(a.getenv(envStore))
	}
	if sf.url == "" {
		if sf.run != "" {
			return false, usageError{errors.New("--run names a run in a store: give --store too")}
		}
		return false, nil
	}
	if !strings.HasPrefix(sf.url, "postgres://") && !strings.HasPrefix(sf.url, "postgresql://") {
		return false, usageError{errors.New("--store: want a postgres:// URL")}
	}
	return true, nil
}

// resolveBeside is resolve for a command that also takes --journal: the
// run's state is in the store or in the journal, so both are refused.
func (sf *storeFlags) resolveBeside(a *app, journal string) (bool, error) {
	shared, err := sf.resolve(a)
	if err == nil && shared && journal != "" {
		return false, usageError{errors.New("--journal and --store: the run's state is in one or the other")}
	}
	return shared, err
}

var runNameDrop = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// runName is --run, or the export's file name.
func (sf *storeFlags) runName(in *inputFile) (string, error) {
	if sf.run != "" {
		return sf.run, nil
	}
	if in == nil || in.Stdin {
		return "", usageError{errors.New("--run is required with --input - and --store: every runner must name the same run")}
	}
	return runNameDrop.ReplaceAllString(filepath.Base(in.Path), "-"), nil
}

// openStore opens the run in the store for migrate (creating it, with the
// export's content hash) or, readOnly, for plan and status.
func (sf *storeFlags) openStore(ctx context.Context, in *inputFile, key codat.Secret, baseURL string, readOnly bool) (*pgstore.Store, error) {
	run, err := sf.runName(in)
	if err != nil {
		return nil, err
	}
	o := pgstore.Options{Run: run, APIKey: key, BaseURL: baseURL, ReadOnly: readOnly, Lease: sf.lease}
	if !readOnly {
		if o.InputHash, err = bulk.InputHash(ctx, in.bulkInput()); err != nil {
			return nil, err
		}
	}
	return pgstore.Open(ctx, sf.url, o)
}

// storeName names a store in messages.
func storeName(st bulk.Store) string {
	if n, ok := st.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", st)
}

// withoutStorePassword returns args with the password of a --store URL
// left out, for the resume commands the CLI prints: the password is never
// printed (a rerun reads it from PGPASSWORD or ~/.pgpass, or is given it
// again).
func withoutStorePassword(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		name, value, inline := strings.Cut(strings.TrimLeft(out[i], "-"), "=")
		if name != "store" || !strings.HasPrefix(out[i], "-") {
			continue
		}
		switch {
		case inline:
			out[i] = out[i][:len(out[i])-len(value)] + redactURL(value)
		case i+1 < len(out):
			out[i+1] = redactURL(out[i+1])
		}
	}
	return out
}

// redactURL drops the password from a URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "postgres://…"
	}
	if _, has := u.User.Password(); has {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}
