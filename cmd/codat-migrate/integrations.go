package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/codat-migrate/codat"
	"github.com/codat-migrate/codat/integrations"
)

func integrationsCommand() *command {
	c := &command{
		name:     "integrations",
		exits:    []int{exitOK, exitRowsFailed, exitUsage, exitFatal},
		exitText: map[int]string{exitRowsFailed: "no such platform (integrations PLATFORM)", exitFatal: "the --spec file cannot be read, or the account cannot be listed (--remote)"},
		summary:  "list the platforms this tool can migrate, with their fields and evidence levels",
		synopsis: "[flags] [PLATFORM]",
		help: `Lists every platform the registry knows: its Codat key, name, source type, the
authorization fields a row needs, and how sure those field names are:

  documented  a public Codat source shows the body
  inferred    the provider's own OAuth field names; Codat may reject them until
              corrected with --spec
  loaded      read from your Postman collection or spec file (--spec)

Codat publishes the per-integration bodies only in its Postman collection
("OAuth Token Migrations" folder): export it and pass it as --spec to every
command. With a PLATFORM (key or name) the command shows that platform's fields
in detail. --remote also asks your Codat account (GET /integrations) which
integrations are enabled.`,
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var cf connFlags
		var lf logFlags
		var spec string
		var remote, asJSON bool
		cf.register(fs)
		lf.register(fs)
		fs.StringVar(&spec, "spec", "", "correct or extend the field names from a Postman collection or a spec `file` (detected)")
		fs.BoolVar(&remote, "remote", false, "also list what the Codat account has enabled (needs an API key; one request per page)")
		fs.BoolVar(&asJSON, "json", false, "print as JSON")
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		if fs.NArg() > 1 {
			return a.exitForSetupError(c, usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args()[1:], " "))})
		}
		logger, err := lf.logger(a.stderr)
		if err != nil {
			return a.exitForSetupError(c, err)
		}
		reg, err := loadRegistry(spec, a.stderr)
		if err != nil {
			return a.exitForSetupError(c, err)
		}
		if fs.NArg() == 1 {
			return a.integration(c, reg, fs.Arg(0), asJSON)
		}
		var account map[string]codat.Integration
		if remote {
			client, err := a.newClient(&cf, logger)
			if err != nil {
				return a.exitForSetupError(c, err)
			}
			if account, err = accountIntegrations(client); err != nil {
				a.errorf(c, "listing the account's integrations: %v", err)
				return exitFatal
			}
		}
		return a.integrations(c, reg, account, asJSON)
	}
	return c
}

// integration shows one platform, by key or name, in detail.
func (a *app) integration(c *command, reg *integrations.Registry, name string, asJSON bool) int {
	p, ok := reg.Lookup(name)
	if !ok {
		a.errorf(c, "unknown platform %q: 'codat-migrate integrations' lists them; --spec adds one", name)
		return exitRowsFailed
	}
	if asJSON {
		return a.printJSON(c, platformJSON(p, nil))
	}
	printPlatform(a, p)
	return exitOK
}

// accountIntegrations lists the integrations of the client's Codat
// account, by key.
func accountIntegrations(client *codat.Client) (map[string]codat.Integration, error) {
	account := map[string]codat.Integration{}
	for in, err := range client.Integrations.All(context.Background(), &codat.ListOptions{PageSize: 500}) {
		if err != nil {
			return nil, err
		}
		account[in.Key] = in
	}
	return account, nil
}

// integrations lists every platform reg knows, as a table with notes or as
// JSON, with what the account has enabled when account is not nil.
func (a *app) integrations(c *command, reg *integrations.Registry, account map[string]codat.Integration, asJSON bool) int {
	platforms := reg.Platforms()
	if asJSON {
		out := make([]any, 0, len(platforms))
		for _, p := range platforms {
			var in *codat.Integration
			if account != nil {
				if i, ok := account[p.Key]; ok {
					in = &i
				}
			}
			out = append(out, platformJSON(p, in))
		}
		return a.printJSON(c, out)
	}
	printIntegrationsTable(a.stdout, platforms, account)
	printIntegrationsNotes(a.stdout, reg, platforms, account)
	return exitOK
}

// printIntegrationsTable writes one line per platform, with an IN ACCOUNT
// column when account is not nil.
func printIntegrationsTable(w io.Writer, platforms []integrations.Platform, account map[string]codat.Integration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "KEY\tNAME\tTYPE\tEVIDENCE\t"
	if account != nil {
		header += "IN ACCOUNT\t"
	}
	fmt.Fprintln(tw, header+"FIELDS ([optional])")
	for _, p := range platforms {
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t", p.Key, p.Name, p.SourceType, p.Evidence)
		if account != nil {
			row += enabledLabel(account, p.Key) + "\t"
		}
		fmt.Fprintln(tw, row+fieldList(p))
	}
	tw.Flush()
}

// printIntegrationsNotes writes the counts by evidence level, the
// account's enabled integrations reg does not know, and warnings for the
// inferred and doubtful platforms.
func printIntegrationsNotes(w io.Writer, reg *integrations.Registry, platforms []integrations.Platform, account map[string]codat.Integration) {
	counts := map[integrations.Evidence]int{}
	for _, p := range platforms {
		counts[p.Evidence]++
	}
	fmt.Fprintf(w, "\n%d platforms: %d documented, %d inferred, %d doubtful, %d loaded.\n", len(platforms),
		counts[integrations.Documented], counts[integrations.Inferred], counts[integrations.Doubtful], counts[integrations.Loaded])
	if account != nil {
		var unknown []string
		for k, in := range account {
			if _, ok := reg.Lookup(k); !ok && in.Enabled {
				unknown = append(unknown, fmt.Sprintf("%s (%s)", k, in.Name))
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			fmt.Fprintf(w, "Enabled in the account but unknown here (add them with --spec): %s\n", strings.Join(unknown, ", "))
		}
	}
	if counts[integrations.Inferred] > 0 {
		fmt.Fprintln(w, "Inferred field names may be rejected by Codat: load Codat's Postman collection with --spec, and keep the canary on.")
	}
	var doubtful []string
	for _, p := range platforms {
		if p.Evidence == integrations.Doubtful {
			doubtful = append(doubtful, fmt.Sprintf("%s (%s)", p.Name, p.Key))
		}
	}
	if len(doubtful) > 0 {
		fmt.Fprintf(w, "Doubtful: Codat's documentation points to another credential for %s; load the real body with --spec before migrating them.\n",
			strings.Join(doubtful, ", "))
	}
}

func enabledLabel(account map[string]codat.Integration, key string) string {
	in, ok := account[key]
	switch {
	case !ok:
		return "absent"
	case in.Enabled:
		return "enabled"
	default:
		return "disabled"
	}
}

// fieldList is "realmId, accessToken, refreshToken, [expiresAt]".
func fieldList(p integrations.Platform) string {
	parts := make([]string, 0, len(p.Fields))
	for _, f := range p.Fields {
		if f.Required {
			parts = append(parts, f.Name)
		} else {
			parts = append(parts, "["+f.Name+"]")
		}
	}
	return strings.Join(parts, ", ")
}

func printPlatform(a *app, p integrations.Platform) {
	w := a.stdout
	fmt.Fprintf(w, "%s (%s), %s\n", p.Name, p.Key, p.SourceType)
	if len(p.Aliases) > 0 {
		fmt.Fprintf(w, "Also called: %s\n", strings.Join(p.Aliases, ", "))
	}
	fmt.Fprintf(w, "Evidence: %s", p.Evidence)
	if p.Source != "" {
		fmt.Fprintf(w, " (%s)", p.Source)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Fields (CSV columns / JSONL authorization keys):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range p.Fields {
		req := "optional"
		if f.Required {
			req = "required"
		}
		kind := string(f.Format)
		if kind == "" {
			kind = "text"
		}
		if f.Secret {
			kind += ", credential"
		}
		extra := f.Doc
		if len(f.Aliases) > 0 {
			if extra != "" {
				extra += "; "
			}
			extra += "also accepted: " + strings.Join(f.Aliases, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Name, req, kind, extra)
	}
	tw.Flush()
}

func platformJSON(p integrations.Platform, in *codat.Integration) map[string]any {
	fields := make([]map[string]any, 0, len(p.Fields))
	for _, f := range p.Fields {
		fields = append(fields, map[string]any{
			"name": f.Name, "role": f.Role, "required": f.Required, "secret": f.Secret,
			"tenant": f.Tenant, "format": f.Format, "aliases": f.Aliases, "doc": f.Doc,
		})
	}
	m := map[string]any{
		"key": p.Key, "name": p.Name, "sourceType": p.SourceType, "aliases": p.Aliases,
		"evidence": p.Evidence, "source": p.Source, "fields": fields,
	}
	if in != nil {
		m["account"] = map[string]any{"enabled": in.Enabled, "name": in.Name, "isBeta": in.IsBeta}
	}
	return m
}

func (a *app) printJSON(c *command, v any) int {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		a.errorf(c, "%v", err)
		return exitFatal
	}
	return exitOK
}
