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
-- write json_to_record(r.raw_data::json) (bytea: convert_from(r.raw_data, 'UTF8')::json).
-- json_to_record parses each record once; r.raw_data->>'field' for every
-- field would parse it once per field, several times slower on large records.
SELECT
    x.customer_id::bigint                                             AS customer_id,
    x.name                                                            AS name,
    nullif(x.email, '')                                               AS email,
    upper(nullif(x.country, ''))::char(2)                             AS country,
    nullif(x.segment, '')                                             AS segment,
    nullif(x.lifetime_value, '')::numeric(12,2)                       AS lifetime_value,
    CASE WHEN json_typeof(x.tags) = 'array'
         THEN ARRAY(SELECT json_array_elements_text(x.tags))
    END                                                               AS tags,
    CASE WHEN json_typeof(x.attributes) = 'object'
         THEN x.attributes::jsonb
    END                                                               AS attributes,
    nullif(x.active, '')::boolean                                     AS active,
    coalesce(nullif(x.created_at, '')::timestamptz, r.ingested_at)    AS created_at,
    coalesce(nullif(x.updated_at, '')::timestamptz, r.ingested_at)    AS updated_at
FROM {{source}} AS r,
     json_to_record(r.raw_data) AS x(customer_id text, name text, email text, country text, segment text,
                                     lifetime_value text, tags json, attributes json, active text,
                                     created_at text, updated_at text)
