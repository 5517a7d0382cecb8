-- Transform of the customers dataset: raw customer records (Layer 3,
-- source_customers) to the analytics table customers (Layer 2).
--
-- A raw record, one JSON object per line as sent by the CRM:
-- {"customer_id": 1001, "name": "Ada Lovelace", "email": "ada@example.com", "country": "gb", "segment": "enterprise", "lifetime_value": "15234.50", "tags": ["tier1", "region2"], "attributes": {"source": "crm", "score": 87, "vip": true}, "active": true, "created_at": "2023-06-01T09:00:00Z", "updated_at": "2024-11-01T12:30:00Z"}
--
-- Every field but customer_id, name and active may be missing; an empty string
-- counts as missing. updated_at (the analytics time column) falls back to
-- the time the record was received. Strata runs this once per source row
-- ({{source}} is that row, aliased r here); when several records share a
-- customer_id, the latest received wins.
--
-- raw_data is the source.payload_column, of type json here; were it text,
-- write r.raw_data::json->>'...' (bytea: convert_from(r.raw_data, 'UTF8')::json).
SELECT
    (r.raw_data->>'customer_id')::bigint                              AS customer_id,
    r.raw_data->>'name'                                               AS name,
    nullif(r.raw_data->>'email', '')                                  AS email,
    upper(nullif(r.raw_data->>'country', ''))::char(2)                AS country,
    nullif(r.raw_data->>'segment', '')                                AS segment,
    nullif(r.raw_data->>'lifetime_value', '')::numeric(12,2)          AS lifetime_value,
    CASE WHEN json_typeof(r.raw_data->'tags') = 'array'
         THEN ARRAY(SELECT json_array_elements_text(r.raw_data->'tags'))
    END                                                               AS tags,
    CASE WHEN json_typeof(r.raw_data->'attributes') = 'object'
         THEN (r.raw_data->'attributes')::jsonb
    END                                                               AS attributes,
    nullif(r.raw_data->>'active', '')::boolean                        AS active,
    coalesce(nullif(r.raw_data->>'created_at', '')::timestamptz,
             r.ingested_at)                                           AS created_at,
    coalesce(nullif(r.raw_data->>'updated_at', '')::timestamptz,
             r.ingested_at)                                           AS updated_at
FROM {{source}} AS r
