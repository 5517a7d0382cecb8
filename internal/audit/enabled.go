//go:build !strata_noaudit

package audit

// Enabled is false only in a binary built with -tags strata_noaudit, which
// records nothing: `make bench` builds one (bin/strata-noaudit) to measure
// what auditing costs. Release builds never set the tag; docs/COMPLIANCE.md
// says how to check a binary.
const Enabled = true
