// Package filter implements the where language of strata retrieve --where
// and of the HTTP archive endpoint's where parameter: a small, safe
// language over a dataset's columns. An expression is parsed into a tree
// (never spliced into SQL), type-checked against the schema (Bind),
// evaluated on archived rows (Matcher), pushed down to Parquet row-group
// statistics (MayMatch) and rendered as a parameterised SQL condition for
// rows still in PostgreSQL (SQL); the archive and the SQL give the same
// answer for the same row.
package filter
