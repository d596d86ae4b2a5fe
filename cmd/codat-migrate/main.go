// Command codat-migrate moves existing OAuth connections (QuickBooks Online,
// Xero, FreeAgent, Shopify, …) from a self-managed integration into Codat
// without the end customer reconnecting.
//
// It reads an export of customers and their tokens (CSV or JSONL), checks
// every row offline, estimates how long Codat's daily quota makes the run
// take, migrates a canary cohort first and then the rest, journals every step
// so an interrupted run resumes without duplicates, and writes a report with
// one line per input row.
//
// Start with the demo, which needs no key and no network:
//
//	go run ./cmd/codat-migrate demo
//
// Then, against a real account:
//
//	export CODAT_API_KEY=…                        # or --api-key-file
//	codat-migrate validate --input export.csv     # offline: nothing is sent
//	codat-migrate plan     --input export.csv     # requests, quota, days
//	codat-migrate migrate  --input export.csv     # canary of 1 first, then the rest
//	codat-migrate status   --journal export.csv.journal
//
// Exit codes of migrate: 0 every row migrated; 1 some rows failed or were
// invalid (see the report); 2 usage error; 3 fatal error; 75 the daily quota
// is spent (resumable); 130 interrupted (resumable). Each command's --help
// lists the codes it can return.
package main

import (
	"os"
)

func main() {
	os.Exit(newApp().run(os.Args[1:]))
}
