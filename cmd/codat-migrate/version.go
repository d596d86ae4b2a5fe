package main

import (
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; when it
// is empty the module version from the build information is used.
var version = ""

// userAgent is sent to Codat so its support can tell this tool's requests apart.
func userAgent() string { return "codat-migrate/" + versionString() }

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func versionCommand() *command {
	c := &command{
		name:       "version",
		simpleExit: true,
		summary:    "print the version",
		synopsis:   "",
		help:       "Prints codat-migrate's version and the Go version it was built with.",
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
		fmt.Fprintf(a.stdout, "codat-migrate %s (%s %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	return c
}
