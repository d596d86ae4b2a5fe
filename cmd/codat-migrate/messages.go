package main

import (
	"regexp"
	"strings"
)

// Messages for operators: the library's errors name Go packages and
// identifiers (bulk:, Runner.SkipAccountCheck, WithBaseURL); the CLI says
// the same in its own terms (flags and commands).

// packagePrefix matches a package's prefix at the start of a message or of
// a wrapped part of it.
var packagePrefix = regexp.MustCompile(`(^|: |; |\()(bulk|integrations|codat|codattest): `)

// operatorTerms are library names and what the CLI calls them.
var operatorTerms = strings.NewReplacer(
	"WithBaseURL: ", "--base-url: ",
	"set SkipAccountCheck", "pass --skip-account-check",
	"Runner.SkipAccountCheck", "--skip-account-check",
	"SkipAccountCheck", "--skip-account-check",
	"Runner.Relink", "--relink",
	"Runner.JournalPath", "--journal",
	"Runner.WaitForQuota", "--wait",
	"Registry.Platforms lists them", "'codat-migrate integrations' lists them",
	"Registry.Platforms", "'codat-migrate integrations'",
)

// operatorText rewrites a library message for the CLI.
func operatorText(s string) string {
	if s == "" {
		return s
	}
	for {
		t := packagePrefix.ReplaceAllString(s, "$1")
		if t == s {
			break
		}
		s = t
	}
	return operatorTerms.Replace(s)
}

// operatorMessage is err's message for the CLI.
func operatorMessage(err error) string {
	if err == nil {
		return ""
	}
	return operatorText(err.Error())
}
