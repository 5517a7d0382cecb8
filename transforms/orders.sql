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
-- write json_to_record(r.raw_data::json) (bytea: convert_from(r.raw_data, 'UTF8')::json).
-- json_to_record parses each record once; r.raw_data->>'field' for every
-- field would parse it once per field, several times slower on large records.
SELECT
    x.order_id::bigint                                                AS order_id,
    x.customer_id::bigint                                             AS customer_id,
    lower(x.status)                                                   AS status,
    nullif(x.total, '')::numeric(12,2)                                AS total,
    upper(x.currency)::char(3)                                        AS currency,
    nullif(x.items, '')::integer                                      AS items,
    coalesce(nullif(x.ordered_at, '')::timestamptz, r.ingested_at)    AS ordered_at,
    nullif(x.shipped_on, '')::date                                    AS shipped_on
FROM {{source}} AS r,
     json_to_record(r.raw_data) AS x(order_id text, customer_id text, status text, total text,
                                     currency text, items text, ordered_at text, shipped_on text)
