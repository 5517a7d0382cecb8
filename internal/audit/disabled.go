//go:build strata_noaudit

package audit

// Enabled is false: this binary was built with -tags strata_noaudit, for
// benchmarks, and records nothing.
const Enabled = false
