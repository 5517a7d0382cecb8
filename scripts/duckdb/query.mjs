// Runs SQL in DuckDB for the tests: internal/testenv's DuckDB runs
//
//   node scripts/duckdb/query.mjs < job.json
//
// with a job {"modules": "<STRATA_TEST_DUCKDB>", "sql": "SELECT ..."} and
// prints {"columns": [...], "rows": [[...], ...]}, values as DuckDB's JSON
// rendering (getRowsJson: strings for timestamps, decimals and big
// integers). An in-memory instance, one thread.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const job = JSON.parse(readFileSync(0, 'utf8'));
const require = createRequire(join(job.modules, 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
const reader = await conn.runAndReadAll(job.sql);
process.stdout.write(JSON.stringify({ columns: reader.columnNames(), rows: reader.getRowsJson() }));
