-- Transform of the orders dataset: raw order events (Layer 3,
-- source_orders) to the analytics table orders (Layer 2).
--
-- A raw record, one JSON object per line as sent by the shop:
-- {"order_id": 90001, "customer_id": 1001, "status": "PAID", "total": "149.90", "currency": "eur", "items": 3, "ordered_at": "2024-11-01T09:15:00Z", "shipped_on": null}
--
-- status and currency are normalised to lower and upper case; total may be
-- a number or a numeric string; items a whole number; shipped_on is a date or null. ordered_at
-- (the analytics time column) falls back to the time the record was
-- received. Strata runs this once per source row ({{source}} is that row,
-- aliased r here); when several records share an order_id (an order's
-- status changes), the latest received wins.
--
-- raw_data is the source.payload_column, of type json here; were it text,
-- write r.raw_data::json->>'...' (bytea: convert_from(r.raw_data, 'UTF8')::json).
SELECT
    (r.raw_data->>'order_id')::bigint                                 AS order_id,
    (r.raw_data->>'customer_id')::bigint                              AS customer_id,
    lower(r.raw_data->>'status')                                      AS status,
    nullif(r.raw_data->>'total', '')::numeric(12,2)                   AS total,
    upper(r.raw_data->>'currency')::char(3)                           AS currency,
    nullif(r.raw_data->>'items', '')::integer                         AS items,
    coalesce(nullif(r.raw_data->>'ordered_at', '')::timestamptz,
             r.ingested_at)                                           AS ordered_at,
    nullif(r.raw_data->>'shipped_on', '')::date                       AS shipped_on
FROM {{source}} AS r
