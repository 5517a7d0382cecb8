// Package substrait stands in for github.com/substrait-io/substrait v0.87.0
// in Strata's build (a replace directive in Strata's go.mod; see
// third_party/README.md). It embeds only the type definitions, so the
// default collection that iceberg-go loads when the program starts parses 2
// small files instead of all 18 (Strata never converts an expression to
// Substrait). The files are copied unchanged from v0.87.0 (Apache License
// 2.0, LICENSE).
package substrait

import "embed"

//go:embed extensions/*
var substraitExtensionsFS embed.FS

// GetSubstraitFS returns the embedded extension definitions.
func GetSubstraitFS() embed.FS {
	return substraitExtensionsFS
}

// GetSubstraitExtensionsFS returns the embedded extension definitions.
func GetSubstraitExtensionsFS() embed.FS {
	return substraitExtensionsFS
}
