// DuckDB side of `make bench`'s retrieval comparison. internal/bench runs
//
//   node scripts/duckdb/bench.mjs < job.json > result.json
//
// with a job {"modules": ".tools/duckdb", "threads": 2, "reps": 3,
// "queries": [{"name": "a", "sql": "SELECT ... FROM read_parquet([...])",
// "modes": ["chunks", "json"]}]} and prints {"version": "v1.5.6", "runs":
// [{"name", "mode", "rep", "rows", "ms", "first_ms"}]}.
//
// Every run gets a new in-memory DuckDB instance (so nothing DuckDB cached in
// an earlier run, such as Parquet metadata or its external file cache,
// helps), created before the clock starts; the clock stops when the last row
// has been produced. Node's start-up and the instance's creation are not
// timed. Modes:
//
//   chunks  stream the result and fetch every chunk (2048 rows) into
//           JavaScript, counting rows; first_ms is when the first chunk
//           arrived. Values stay in DuckDB's vectors (not converted to JS
//           values), as a consumer of the chunk API would start from.
//   json    COPY (sql) TO '/dev/null' (FORMAT json): DuckDB renders every
//           row as a JSON line and writes it away, as strata's jsonl does;
//           no first_ms (the statement returns at the end).
//   csv     COPY (sql) TO q.out (FORMAT csv, HEADER): the rows as CSV into
//           the file the query names (/dev/null without one), as strata
//           retrieve --format csv > file does; no first_ms.
//   values  run the query and report its first row's values as strings
//           (values), for checks against PostgreSQL.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const job = JSON.parse(readFileSync(0, 'utf8'));
const require = createRequire(join(job.modules, 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);

async function open() {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(job.threads ?? 2) });
  return { instance, conn: await instance.connect() };
}

async function runChunks(conn, sql) {
  const t0 = performance.now();
  const result = await conn.stream(sql);
  let rows = 0;
  let first = null;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    if (first === null) first = performance.now() - t0;
    rows += chunk.rowCount;
  }
  return { rows, ms: performance.now() - t0, first_ms: first ?? performance.now() - t0 };
}

async function runJSON(conn, sql) {
  const t0 = performance.now();
  const reader = await conn.runAndReadAll(`COPY (${sql}) TO '/dev/null' (FORMAT json, USE_TMP_FILE false)`);
  const ms = performance.now() - t0;
  return { rows: Number(reader.getRows()[0][0]), ms, first_ms: null };
}

async function runCSV(conn, sql, q) {
  const out = (q.out ?? '/dev/null').replaceAll("'", "''");
  const t0 = performance.now();
  const reader = await conn.runAndReadAll(`COPY (${sql}) TO '${out}' (FORMAT csv, HEADER, USE_TMP_FILE false)`);
  const ms = performance.now() - t0;
  return { rows: Number(reader.getRows()[0][0]), ms, first_ms: null };
}

async function runValues(conn, sql) {
  const t0 = performance.now();
  const reader = await conn.runAndReadAll(sql);
  const ms = performance.now() - t0;
  const rows = reader.getRows();
  return { rows: rows.length, ms, first_ms: null, values: (rows[0] ?? []).map((v) => String(v)) };
}

const modes = { chunks: runChunks, json: runJSON, csv: runCSV, values: runValues };
const out = { runs: [] };
{
  const { instance, conn } = await open();
  out.version = (await conn.runAndReadAll('SELECT version()')).getRows()[0][0];
  conn.closeSync();
  instance.closeSync();
}
for (const q of job.queries) {
  for (const mode of q.modes ?? ['chunks']) {
    for (let rep = 1; rep <= (job.reps ?? 1); rep++) {
      const { instance, conn } = await open();
      let r;
      try {
        r = await modes[mode](conn, q.sql, q);
      } catch (e) {
        // Checks (modes csv and values) report a failed query and go on;
        // a timed query that fails stops the run.
        if (mode !== 'csv' && mode !== 'values') throw e;
        r = { rows: 0, ms: 0, first_ms: null, error: String(e.message ?? e) };
      }
      conn.closeSync();
      instance.closeSync();
      out.runs.push({ name: q.name, mode, rep, ...r });
    }
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
