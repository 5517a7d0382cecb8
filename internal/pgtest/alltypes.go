package pgtest

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// The all-types fixture: a table with a column of every type the archive
// supports (docs/TYPES.md) and rows with NULL in every column and the edge
// cases of each type (NaN, ±Infinity, -0, 60-digit numerics, padded char(n),
// json with odd spacing and duplicate keys, bytea with zero bytes, dates
// before year 1 and far in the future, intervals mixing signs, quoted enum
// labels, arrays that are empty, NULL or hold NULLs, quotes and backslashes),
// shared by the tests that check a value comes back as PostgreSQL has it.

// TypesDDL creates what the all-types table needs once per database: the
// citext extension, an enum with a quoted label and domains.
const TypesDDL = `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'a "quoted", label');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN shorttext AS varchar(10);
CREATE DOMAIN moodd AS mood;
CREATE DOMAIN intlist AS int[];`

// AllTypesTable is the CREATE TABLE of an all-types table named table
// (after TypesDDL). Its columns: id bigint NOT NULL, then i2 i4 i8 f4 f8
// num num2 t vc ch nm ci b tstz ts d tm iv u j jb by m pi st dm, then the
// arrays ai at anum ats am aby ajb af8 adom ab ad aiv au aj ach.
func AllTypesTable(table string) string { return withTable(allTypesDDL, table) }

const allTypesDDL = `
CREATE TABLE {table} (
  id bigint NOT NULL,
  i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
  num numeric, num2 numeric(12,2),
  t text, vc varchar(20), ch char(5), nm name, ci citext,
  b boolean,
  tstz timestamptz, ts timestamp, d date, tm time, iv interval,
  u uuid, j json, jb jsonb, by bytea,
  m mood, pi posint, st shorttext, dm moodd,
  ai int[], at text[], anum numeric[], ats timestamptz[], am mood[], aby bytea[],
  ajb jsonb[], af8 float8[], adom intlist, ab bool[], ad date[], aiv interval[], au uuid[],
  aj json[], ach char(2)[]
)`

// AllTypesRows inserts the fixture's 3,007 rows into an all-types table:
// ids 1 (NULL everywhere but id) to 7, the edge cases, then 100 to 3099,
// plain rows.
func AllTypesRows(table string) string { return withTable(allTypesRows, table) }

const allTypesRows = `
INSERT INTO {table} (id) VALUES (1);
INSERT INTO {table} VALUES (2, 1, 2, 3, 1.5, 2.25, 12.340, 12.34, 'hello', 'varchar', 'ab', 'nm', 'CiText',
  true, '2024-11-01 12:34:56.789012+00', '2024-11-01 12:34:56.789012', '2024-11-01', '12:34:56.789', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,   "a" : [1, 2] , "a": "dup"}', '{"b": 1, "a": [1, 2]}', '\x00ff00',
  'happy', 7, 'short', 'ok',
  '{1,NULL,3}', '{"a b",NULL,"","NULL","x,y","q\"uote","back\\slash","{br}"}', '{1.50,NaN,-Infinity}',
  '{"2024-01-01 00:00:00+00",NULL}', '{sad,NULL,"a \"quoted\", label"}', '{"\\x00",NULL,"\\x"}',
  ARRAY['{"k": [1, {"z": null}]}'::jsonb, NULL], '{NaN,Infinity,-0,1e300}', '{4,5}', '{t,f,NULL}',
  '{2024-02-29,infinity}', '{"1 day",NULL,"-1 mons +2 days -00:00:03"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
  ARRAY['{"a" :1}'::json, '[ ]'::json], '{"a ",b}');
INSERT INTO {table} (id, i2, i4, i8, f4, f8, num, num2, t, vc, ch, nm, b, tstz, ts, d, tm, iv, j, jb, by, ai, at, anum)
VALUES (3, -32768, -2147483648, -9223372036854775808, 'NaN', 'NaN', 'NaN', -9999999999.99, '', '', '', '', false,
  'infinity', 'infinity', 'infinity', '24:00:00', '-178000000 years',
  '  {"spaced" :  true,
   "nl": "x"}  ', '{}', '', '{}', '{}', '{}');
INSERT INTO {table} (id, i2, i4, i8, f4, f8, num, t, ch, tstz, ts, d, tm, iv, j, jb, by)
VALUES (4, 32767, 2147483647, 9223372036854775807, '-Infinity', 'Infinity',
  '-123456789012345678901234567890123456789012345678901234567890.123456789012345678901234567890',
  'unicode: żółć 日本 🎉 tab	nl
 "q" \ end', 'x', '-infinity', '-infinity', '-infinity', '00:00:00',
  '-1 years -2 mons +3 days -04:05:06.000001', '"just a string"', '[1, "two", null, {"x": {}}]', '\x5c4e00');
INSERT INTO {table} (id, f4, f8, num, tstz, ts, d, iv, t)
VALUES (5, 'Infinity', '-Infinity', 'Infinity', '4713-01-01 00:00:00+00 BC', '0044-03-15 12:00:00 BC', '0001-01-01 BC', '0', 'NULL'),
       (6, '-0', '-0', '0.000000000000000000000000000000000000001', '294246-12-31 23:59:59.999999+00', '9999-12-31 23:59:59.999999', '5874897-12-31', '1 mon -1 day 00:00:00.000001', '\N'),
       (7, 1e-40, 5e-324, '-0.5', '1969-12-31 23:59:59.999999+00', '1900-02-28 01:02:03', '1970-01-01', '-00:00:00.5', ',');
INSERT INTO {table} (id, i4, num, t, tstz, ai)
SELECT g, g, g * 1.5, repeat('x', g % 50), '2024-11-01 00:00:00+00'::timestamptz + g * interval '1 second', ARRAY[g, NULL]
FROM generate_series(100, 3099) g;`

func withTable(sql, table string) string {
	return strings.ReplaceAll(sql, "{table}", pgx.Identifier{table}.Sanitize())
}
