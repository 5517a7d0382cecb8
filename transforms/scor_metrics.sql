-- Transform of the scor_metrics dataset: raw process metrics (Layer 3,
-- source_scor_metrics) to the analytics table scor_metrics (Layer 2).
--
-- A raw record, one JSON object per line as sent by the process monitor:
-- {"metric_id": 500001, "process_id": "c4ca4238-a0b9-2382-0dcc-509a6f75849b", "metric_name": "cycle_time", "value": 12.75, "unit": "s", "timestamp": "2024-11-01T08:15:30Z"}
--
-- value may be a number, a numeric string or null; unit may be missing.
-- "timestamp" (the analytics time column) falls back to the time the record
-- was received. Strata runs this once per source row ({{source}} is that
-- row, aliased r here); when several records share a metric_id, the latest
-- received wins.
--
-- raw_data is the source.payload_column, of type json here; were it text,
-- write json_to_record(r.raw_data::json) (bytea: convert_from(r.raw_data, 'UTF8')::json).
-- json_to_record parses each record once; r.raw_data->>'field' for every
-- field would parse it once per field, several times slower on large records.
SELECT
    x.metric_id::bigint                                               AS metric_id,
    x.process_id::uuid                                                AS process_id,
    x.metric_name                                                     AS metric_name,
    nullif(x.value, '')::double precision                             AS value,
    nullif(x.unit, '')                                                AS unit,
    coalesce(nullif(x."timestamp", '')::timestamptz, r.ingested_at)   AS "timestamp"
FROM {{source}} AS r,
     json_to_record(r.raw_data) AS x(metric_id text, process_id text, metric_name text, value text,
                                     unit text, "timestamp" text)
