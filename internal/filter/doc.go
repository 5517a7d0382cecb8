// Package filter implements the where language of strata retrieve --where
// and of the where parameter of GET /v1/datasets/{ds}/archive/{type}: a
// small, safe language over a dataset's columns. An expression is parsed
// into a tree, never spliced into SQL ([Parse]); type-checked against the
// dataset's columns ([Bind]); evaluated on archived Parquet rows
// ([Filter.Matcher]); pushed down to Parquet row-group statistics
// ([Filter.MayMatch]); and rendered as a parameterised SQL condition for
// the rows still in PostgreSQL ([Filter.SQL]). The archive and PostgreSQL
// select the same rows for the same expression. docs/FILTERS.md is the
// same reference for users.
//
// # Grammar
//
//	expr    := or
//	or      := and ( OR and )*
//	and     := not ( AND not )*
//	not     := NOT not | primary
//	primary := '(' expr ')'
//	         | column op literal
//	         | column [NOT] IN '(' literal ( ',' literal )* ')'
//	         | column IS [NOT] NULL
//	op      := = | != | <> | < | <= | > | >=
//	column  := [A-Za-z_][A-Za-z0-9_]*      folded to lower case, as PostgreSQL does
//	         | "Any Name"                  exactly as written; "" stands for "
//	literal := 'text'                      '' stands for '; no backslash escapes
//	         | number                      -12, 3.5, .5, 1e3, -2.5E-3 (exponent within ±1000)
//	         | TRUE | FALSE
//
// Keywords (AND, OR, NOT, IN, IS, NULL, TRUE, FALSE) are case-insensitive;
// a column named like one must be double-quoted. NOT binds tighter than
// AND, and AND tighter than OR. The column comes first: amount > 5, not
// 5 < amount. NULL is no value to compare with: write x IS NULL or
// x IS NOT NULL. Examples:
//
//	status = 'shipped' AND amount >= 100
//	region IN ('eu', 'us') OR region IS NULL
//	updated_at >= '2024-11-01T06:00:00Z'
//	NOT (kind = 'test' OR "Customer Id" IS NULL)
//
// # Meaning
//
// As in SQL's WHERE, logic has three values: a comparison with a NULL
// value is NULL (unknown), NOT NULL is NULL, FALSE AND NULL is FALSE, TRUE
// OR NULL is TRUE, and a row is selected only when the expression is TRUE.
// So neither x = 1 nor x <> 1 nor NOT x = 1 selects a row where x is NULL.
// A column that an archived file lacks (it was added later) reads as NULL.
// A column whose type changed since a file was archived is compared with
// its type now: the retrieval casts the file's values first (package
// pgcast), so the filter only ever sees values of the bound type.
//
// What each column type is compared with, and how (a domain as its base
// type):
//
//   - smallint, integer, bigint: numbers, compared exactly: x = 1.5 is
//     never TRUE, x < 1.5 is x <= 1, and a literal beyond the type's range
//     is fine (a smallint is always < 100000).
//   - real, double precision: numbers and 'NaN', 'Infinity', '-Infinity'
//     (also 'inf', '+inf', '-inf', any case). A real is widened to double
//     precision. As in PostgreSQL, NaN equals NaN and is above every
//     number, and -0 equals 0.
//   - numeric: numbers and the same special values, compared exactly;
//     -Infinity < every number < Infinity < NaN.
//   - text, varchar, character(n), name, citext and enums: strings,
//     compared byte by byte (the "C" collation) whatever the column's
//     collation: 'B' < 'a', and citext is case-sensitive here. An enum
//     compares by its label, not its declaration order. For a
//     character(n) column the value and the literal lose their trailing
//     spaces first, as PostgreSQL compares character(n) with a string.
//   - boolean: TRUE and FALSE; FALSE < TRUE.
//   - uuid: a string of 32 hex digits, plain or 8-4-4-4-12 with hyphens;
//     compared byte by byte, as PostgreSQL does.
//   - timestamptz, timestamp, date: a string in RFC 3339 with an offset
//     ('2024-11-01T06:00:00Z', '2024-11-01T08:00:00+02:00'), a date
//     ('2024-11-01', midnight UTC), 'infinity' or '-infinity'. Fractions
//     of a second are rounded to microseconds. A timestamp without time
//     zone compares its wall clock as UTC. A date compared with a time of
//     day is its midnight: d < '2024-11-01T06:00:00Z' holds for
//     2024-11-01.
//   - time: a string 'HH:MM', 'HH:MM:SS' or 'HH:MM:SS.ffffff', up to
//     '24:00:00'.
//   - interval, json, jsonb, bytea and arrays: only IS NULL and IS NOT
//     NULL (an empty array is not NULL).
//
// # Limits
//
// An expression has at most [MaxBytes] bytes of UTF-8 text without NUL, at
// most [MaxDepth] levels of parentheses and NOT, and at most [MaxInList]
// values in an IN list. Every syntax or type error is an [*Error] giving
// the byte offset and saying how to fix it, e.g.
//
//	where: at offset 9: expected a literal after "=", found ")": write a 'quoted string', ...
//	where: at offset 0: unknown column amout (the columns are id, amount, status)
package filter
