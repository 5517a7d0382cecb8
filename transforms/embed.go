// Package transforms holds the example datasets' transforms (customers,
// scor_metrics, orders): the files strata.example.yaml names, embedded so
// that `strata demo` can write them next to its configuration.
package transforms

import "embed"

// FS holds the *.sql files of this folder.
//
//go:embed *.sql
var FS embed.FS
