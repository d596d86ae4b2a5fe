package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/codat-migrate/codat"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; when it
// is empty the version is the SDK's, codat.Version, which this command is
// released with.
var version = ""

// userAgent is sent to Codat so its support can tell this tool's requests apart.
func userAgent() string { return "codat-migrate/" + versionString() }

func versionString() string {
	if version != "" {
		return version
	}
	return codat.Version
}

// revision is the version control revision the binary was built from, if
// the build recorded it.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return ""
}

func versionCommand() *command {
	c := &command{
		name:     "version",
		exits:    []int{exitOK, exitUsage},
		summary:  "print the version",
		synopsis: "",
		help:     "Prints codat-migrate's version and the Go version it was built with.",
	}
	c.run = func(a *app, args []string) int {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		if ok, code := a.parse(c, fs, args); !ok {
			return code
		}
		if fs.NArg() > 0 {
			a.errorf(c, "takes no arguments")
			return exitUsage
		}
		rev := ""
		if r := revision(); r != "" {
			rev = ", revision " + r
		}
		fmt.Fprintf(a.stdout, "codat-migrate %s (%s %s/%s%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
		return exitOK
	}
	return c
}
