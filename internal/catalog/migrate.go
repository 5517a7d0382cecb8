package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order, each once, in its own transaction. Append
// only: never edit a migration that has shipped.
var migrations = []string{
	// 1: objects, runs.
	`CREATE TABLE strata.runs (
		id          bigserial PRIMARY KEY,
		command     text NOT NULL,
		dataset     text,
		archive_type text,
		started_at  timestamptz NOT NULL DEFAULT now(),
		finished_at timestamptz,
		status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'failed')),
		host        text,
		pid         integer,
		rows        bigint NOT NULL DEFAULT 0,
		objects     integer NOT NULL DEFAULT 0,
		bytes       bigint NOT NULL DEFAULT 0,
		error       text,
		detail      jsonb
	);
	CREATE SEQUENCE strata.object_id_seq;
	-- Every object Strata ever uploads is first an intent here, committed
	-- before the upload starts. Its id is the object's id.
	CREATE TABLE strata.uploads (
		id           bigint PRIMARY KEY,
		dataset      text NOT NULL,
		archive_type text NOT NULL,
		day          date NOT NULL,
		key          text NOT NULL UNIQUE,
		state        text NOT NULL CHECK (state IN ('intent', 'uploaded', 'committed', 'orphaned', 'deleting', 'deleted')),
		rows         bigint NOT NULL,
		bytes        bigint NOT NULL,
		sha256       text NOT NULL,
		created_at   timestamptz NOT NULL DEFAULT now(),
		run_id       bigint REFERENCES strata.runs (id)
	);
	CREATE INDEX uploads_unfinished ON strata.uploads (dataset, archive_type, day) WHERE state <> 'committed' AND state <> 'deleted';
	-- Committed objects only: a row is inserted in the same transaction that
	-- deletes the archived rows from the source table.
	CREATE TABLE strata.objects (
		id                 bigint PRIMARY KEY,
		dataset            text NOT NULL,
		archive_type       text NOT NULL CHECK (archive_type IN ('analytics', 'source')),
		day                date NOT NULL,
		key                text NOT NULL UNIQUE,
		state              text NOT NULL CHECK (state IN ('committed', 'expired')),
		source_table       text NOT NULL,
		rows               bigint NOT NULL CHECK (rows >= 0),
		bytes              bigint NOT NULL CHECK (bytes >= 0),
		sha256             text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
		min_time           timestamptz,
		max_time           timestamptz,
		schema_fingerprint text NOT NULL,
		schema             jsonb,
		transform_version  text,
		created_at         timestamptz NOT NULL DEFAULT now(),
		committed_at       timestamptz,
		superseded_by      bigint REFERENCES strata.objects (id),
		expires_at         timestamptz,
		run_id             bigint REFERENCES strata.runs (id)
	);
	CREATE INDEX objects_day ON strata.objects (dataset, archive_type, day);`,
	// 2: which Layer 3 rows are in a committed source batch. A row is
	// inserted in the transaction that commits its object, so "archived"
	// never runs ahead of the archive; purge deletes it with the row.
	// Strata keeps this beside the user's table so that tables written by
	// other programs need no extra column.
	`CREATE TABLE strata.source_archived (
		dataset   text NOT NULL,
		id        bigint NOT NULL,
		object_id bigint NOT NULL,
		PRIMARY KEY (dataset, id)
	);
	CREATE INDEX source_archived_object ON strata.source_archived (object_id);`,
	// 3: lineage. The text of every transform version that wrote rows, so
	// "which logic produced this row" is answerable for as long as the
	// archive lasts; one lineage record per batch or run saying what went
	// in and what came out; and a "restored" state for analytics objects
	// whose rows were copied back into Layer 2 (read from there, not twice).
	`CREATE TABLE strata.transforms (
		dataset    text NOT NULL,
		version    text NOT NULL CHECK (version ~ '^[0-9a-f]{64}$'),
		text       text NOT NULL,
		first_used timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (dataset, version)
	);
	CREATE TABLE strata.lineage (
		id                bigserial PRIMARY KEY,
		run_id            bigint REFERENCES strata.runs (id),
		dataset           text NOT NULL,
		kind              text NOT NULL CHECK (kind IN ('ingest', 'source_archive', 'analytics_archive', 'replay', 'restore')),
		at                timestamptz NOT NULL DEFAULT now(),
		period_from       timestamptz,
		period_to         timestamptz,
		transform_version text,
		source_objects    bigint[] NOT NULL DEFAULT '{}',
		layer3_rows       bigint NOT NULL DEFAULT 0,
		layer3_first_id   bigint,
		layer3_last_id    bigint,
		analytics_rows    bigint NOT NULL DEFAULT 0,
		analytics_objects bigint[] NOT NULL DEFAULT '{}',
		superseded        bigint[] NOT NULL DEFAULT '{}',
		detail            jsonb
	);
	CREATE INDEX lineage_dataset_at ON strata.lineage (dataset, at);
	ALTER TABLE strata.objects DROP CONSTRAINT objects_state_check;
	ALTER TABLE strata.objects ADD CONSTRAINT objects_state_check CHECK (state IN ('committed', 'expired', 'restored'));`,
	// 4: per-object key ranges. The first key column of an analytics
	// object and its smallest and largest value (PostgreSQL text form),
	// when its type orders by value: compare skips objects whose range
	// holds none of the keys it looks for. NULL for objects written before.
	`ALTER TABLE strata.objects ADD COLUMN key_column text, ADD COLUMN key_min text, ADD COLUMN key_max text;`,
	// 5: quarantined records (source.on_transform_error quarantine): Layer
	// 3 rows the transform could not map, stored and archived unprocessed,
	// with the database's error. A replay --apply that processes one sets
	// resolved_at and resolved_run; purge keeps the row while it is open.
	`CREATE TABLE strata.quarantine (
		dataset           text NOT NULL,
		id                bigint NOT NULL,
		ingested_at       timestamptz,
		run_id            bigint REFERENCES strata.runs (id),
		at                timestamptz NOT NULL DEFAULT now(),
		transform_version text,
		sqlstate          text NOT NULL,
		error             text NOT NULL,
		resolved_at       timestamptz,
		resolved_run      bigint REFERENCES strata.runs (id),
		PRIMARY KEY (dataset, id)
	);
	CREATE INDEX quarantine_ingested ON strata.quarantine (dataset, ingested_at);`,
	// 6: idempotency keys of ingest requests. A key's row is written in the
	// transaction that commits the request's records (stored counts them;
	// done once all are), so a retry with the key finds exactly what was
	// committed: the first answer, or where to resume.
	`CREATE TABLE strata.ingest_keys (
		dataset    text NOT NULL,
		key        text NOT NULL,
		sha256     text NOT NULL,
		records    bigint NOT NULL,
		stored     bigint NOT NULL DEFAULT 0,
		done       boolean NOT NULL DEFAULT false,
		answer     jsonb,
		created_at timestamptz NOT NULL DEFAULT now(),
		updated_at timestamptz NOT NULL DEFAULT now(),
		expires_at timestamptz NOT NULL,
		PRIMARY KEY (dataset, key)
	);
	CREATE INDEX ingest_keys_expires ON strata.ingest_keys (expires_at);`,
	// 7: legal holds (internal/hold). A hold keeps every object of its
	// dataset and archive type whose rows overlap [period_from, period_to)
	// from being expired, superseded, restored or deleted until it is
	// released; who, when and why are recorded for both. legal_holds lists
	// the objects on which Strata set the storage's own legal-hold flag, so
	// a crash between the catalog and the storage is repaired by the next
	// reconciliation. The trigger is the backstop of the checks in Go: no
	// statement of Strata's (or anyone's) can expire, supersede, restore or
	// delete a held object's row; it waits for a hold being added
	// (strata:holds:<dataset>, taken exclusively by hold add) and raises
	// SQLSTATE SH001 with the object's key and the holds as JSON in
	// DETAIL.
	`CREATE TABLE strata.holds (
		id             bigserial PRIMARY KEY,
		dataset        text NOT NULL,
		archive_type   text NOT NULL CHECK (archive_type IN ('source', 'analytics', 'both')),
		period_from    timestamptz NOT NULL,
		period_to      timestamptz NOT NULL,
		reason         text NOT NULL CHECK (reason <> ''),
		created_at     timestamptz NOT NULL DEFAULT now(),
		created_by     text NOT NULL,
		created_via    text NOT NULL,
		created_addr   text,
		created_role   text NOT NULL DEFAULT current_user,
		released_at    timestamptz,
		released_by    text,
		released_via   text,
		released_addr  text,
		released_role  text,
		release_reason text,
		CHECK (period_to > period_from),
		CHECK ((released_at IS NULL) = (release_reason IS NULL))
	);
	CREATE INDEX holds_active ON strata.holds (dataset) WHERE released_at IS NULL;
	CREATE TABLE strata.legal_holds (
		object_id bigint PRIMARY KEY REFERENCES strata.objects (id),
		key       text NOT NULL,
		set_at    timestamptz NOT NULL DEFAULT now()
	);
	CREATE FUNCTION strata.hold_covers(h strata.holds, o strata.objects) RETURNS boolean
		LANGUAGE sql STABLE AS $$
		SELECT h.released_at IS NULL AND h.dataset = o.dataset
			AND (h.archive_type = 'both' OR h.archive_type = o.archive_type)
			AND coalesce(o.min_time < h.period_to, (o.day::timestamp AT TIME ZONE 'UTC') < h.period_to)
			AND coalesce(o.max_time >= h.period_from, ((o.day + 1)::timestamp AT TIME ZONE 'UTC') > h.period_from)
	$$;
	CREATE FUNCTION strata.refuse_held() RETURNS trigger LANGUAGE plpgsql AS $$
	DECLARE
		held json;
	BEGIN
		IF TG_OP = 'UPDATE' AND NOT (OLD.superseded_by IS NULL AND NEW.superseded_by IS NOT NULL
				OR NEW.state = 'expired' AND OLD.state <> 'expired'
				OR NEW.state = 'restored' AND OLD.state = 'committed') THEN
			RETURN NEW;
		END IF;
		PERFORM pg_advisory_xact_lock_shared(hashtextextended('strata:holds:' || OLD.dataset, 0));
		SELECT json_agg(json_build_object('id', h.id, 'reason', h.reason) ORDER BY h.id) INTO held
			FROM strata.holds h WHERE strata.hold_covers(h, OLD);
		IF held IS NOT NULL THEN
			RAISE EXCEPTION 'object % is under legal hold', OLD.key USING ERRCODE = 'SH001',
				DETAIL = json_build_object('key', OLD.key, 'holds', held)::text;
		END IF;
		IF TG_OP = 'DELETE' THEN
			RETURN OLD;
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER objects_refuse_held BEFORE UPDATE OR DELETE ON strata.objects
		FOR EACH ROW EXECUTE FUNCTION strata.refuse_held();`,
	// 8: write-once retention. What each object asked the storage to
	// enforce (archive.immutability: the mode, and the retain-until date,
	// its expiry) and the version its upload made on a versioned store, so
	// that reads take that version and never one another writer put on top.
	// NULL for objects written before (and with immutability off): the
	// storage was asked for nothing, and expires_at stays as recorded.
	`ALTER TABLE strata.objects
		ADD COLUMN retain_until   timestamptz,
		ADD COLUMN retention_mode text CHECK (retention_mode IN ('governance', 'compliance')),
		ADD COLUMN version_id     text,
		ADD CONSTRAINT objects_retention_check CHECK ((retain_until IS NULL) = (retention_mode IS NULL));`,
	// 9: the erasure ledger (strata erase). One row per erasure, done or
	// refused: the subject only as a keyed hash (HMAC-SHA-256, the key
	// kept outside the database; key_id tells which key), why, who, and
	// the certificate. erasure_deletions lists the objects an erasure
	// replaced, to delete from storage once their retention allows.
	`CREATE TABLE strata.erasures (
		id           bigserial PRIMARY KEY,
		dataset      text NOT NULL,
		subject_hmac text NOT NULL CHECK (subject_hmac ~ '^[0-9a-f]{64}$'),
		key_id       text NOT NULL,
		status       text NOT NULL CHECK (status IN ('done', 'refused')),
		reason       text NOT NULL,
		refusal      text,
		actor        text,
		via          text,
		at           timestamptz NOT NULL DEFAULT now(),
		run_id       bigint REFERENCES strata.runs (id),
		certificate  jsonb NOT NULL
	);
	CREATE INDEX erasures_subject ON strata.erasures (dataset, subject_hmac);
	CREATE TABLE strata.erasure_deletions (
		erasure_id bigint NOT NULL REFERENCES strata.erasures (id),
		object_id  bigint NOT NULL REFERENCES strata.objects (id),
		key        text NOT NULL,
		not_before timestamptz NOT NULL,
		deleted_at timestamptz,
		PRIMARY KEY (erasure_id, object_id)
	);
	CREATE INDEX erasure_deletions_due ON strata.erasure_deletions (not_before) WHERE deleted_at IS NULL;
	ALTER TABLE strata.lineage DROP CONSTRAINT lineage_kind_check;
	ALTER TABLE strata.lineage ADD CONSTRAINT lineage_kind_check
		CHECK (kind IN ('ingest', 'source_archive', 'analytics_archive', 'replay', 'restore', 'erasure'));`,
	// 10: the audit trail (internal/audit): one record per action, hash
	// chained (prev_hash is the hash of the record before, hash the SHA-256
	// of the record's canonical form, docs/COMPLIANCE.md), appended under an
	// advisory lock so the chain never forks; the UNIQUE constraints make a
	// fork impossible even without it. The trigger refuses UPDATE, DELETE
	// and TRUNCATE to every role; a superuser or the table's owner can drop
	// it, which is why the chain's head is also anchored in the archive
	// storage (audit_anchors lists the anchors written, for scheduling
	// only: verify trusts the storage's copies, not these rows).
	`CREATE TABLE strata.audit (
		seq         bigint PRIMARY KEY CHECK (seq > 0),
		at          timestamptz NOT NULL,
		actor       text NOT NULL,
		via         text NOT NULL,
		addr        text NOT NULL DEFAULT '',
		db_role     text NOT NULL,
		action      text NOT NULL,
		dataset     text NOT NULL DEFAULT '',
		period_from timestamptz,
		period_to   timestamptz,
		rows        bigint NOT NULL DEFAULT 0,
		objects     bigint NOT NULL DEFAULT 0,
		result      text NOT NULL CHECK (result IN ('ok', 'error')),
		error       text NOT NULL DEFAULT '',
		detail      text NOT NULL DEFAULT '',
		prev_hash   text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
		hash        text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
	);
	CREATE INDEX audit_dataset_at ON strata.audit (dataset, at);
	CREATE INDEX audit_at ON strata.audit (at);
	CREATE FUNCTION strata.audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		RAISE EXCEPTION 'strata.audit is append-only: % refused', TG_OP
			USING ERRCODE = 'insufficient_privilege',
			HINT = 'audit records are never changed or removed; strata audit verify checks the chain';
	END $$;
	CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON strata.audit
		FOR EACH ROW EXECUTE FUNCTION strata.audit_refuse();
	CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON strata.audit
		FOR EACH STATEMENT EXECUTE FUNCTION strata.audit_refuse();
	CREATE TABLE strata.audit_anchors (
		seq        bigint PRIMARY KEY,
		hash       text NOT NULL,
		at         timestamptz NOT NULL,
		key        text NOT NULL,
		written_at timestamptz NOT NULL DEFAULT now()
	);`,
	// 11: lakehouse tables (internal/tables). change_seq orders the
	// changes of objects (a new object, and every change of its state or
	// superseded_by, by trigger), so a table's version is the largest
	// change_seq among its dataset's objects of that type. column_stats
	// are an object's per-column file statistics, recorded once (from the
	// footer) so a publish never reads an object twice; NULL until then.
	// table_publications is the last version each format published.
	`CREATE SEQUENCE strata.objects_change_seq;
	ALTER TABLE strata.objects
		ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('strata.objects_change_seq'),
		ADD COLUMN column_stats jsonb;
	CREATE FUNCTION strata.objects_changed() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		NEW.change_seq := nextval('strata.objects_change_seq');
		RETURN NEW;
	END $$;
	CREATE TRIGGER objects_changed BEFORE UPDATE OF state, superseded_by ON strata.objects
		FOR EACH ROW EXECUTE FUNCTION strata.objects_changed();
	CREATE INDEX objects_change ON strata.objects (dataset, archive_type, change_seq);
	CREATE TABLE strata.table_publications (
		dataset      text NOT NULL,
		archive_type text NOT NULL,
		format       text NOT NULL,
		version      bigint NOT NULL,
		objects      bigint NOT NULL,
		published_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (dataset, archive_type, format)
	);`,
	// 12: the Apache Iceberg SQL catalog (internal/iceberg), in a schema of
	// its own, with the tables and columns of Iceberg's JDBC catalog
	// (schema version V1), which Spark and Trino read with
	// currentSchema=strata_iceberg.
	`CREATE SCHEMA IF NOT EXISTS strata_iceberg;
	CREATE TABLE strata_iceberg.iceberg_tables (
		catalog_name               varchar(255) NOT NULL,
		table_namespace            varchar(255) NOT NULL,
		table_name                 varchar(255) NOT NULL,
		metadata_location          varchar(1000),
		previous_metadata_location varchar(1000),
		iceberg_type               varchar(5),
		PRIMARY KEY (catalog_name, table_namespace, table_name)
	);
	CREATE TABLE strata_iceberg.iceberg_namespace_properties (
		catalog_name   varchar(255) NOT NULL,
		namespace      varchar(255) NOT NULL,
		property_key   varchar(255) NOT NULL,
		property_value varchar(1000),
		PRIMARY KEY (catalog_name, namespace, property_key)
	);`,
	// 13: incremental table publishing (internal/tables). change_xid is
	// the transaction that made an object's change_seq, so a publish can
	// tell the changes its predecessor's snapshot did not see: those with
	// a newer change_seq and those of transactions still running then
	// (a sequence number is taken before its transaction commits, so a
	// change can commit after a newer one was published). It moves only
	// when state or superseded_by really change. NULL: unchanged since
	// before this migration. A publication records the snapshot its
	// objects were read in and the format's own state of the table
	// (table_state) so the next publish can tell the table is still the
	// one recorded. created_xid is the transaction that inserted the
	// object (never changed), so a publish can tell an object new since
	// its predecessor's snapshot (certainly not in the table) from one
	// that was there and has changed (perhaps more than once).
	`ALTER TABLE strata.objects ADD COLUMN change_xid xid8, ADD COLUMN created_xid xid8;
	ALTER TABLE strata.objects ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id(),
		ALTER COLUMN created_xid SET DEFAULT pg_current_xact_id();
	CREATE OR REPLACE FUNCTION strata.objects_changed() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.state IS DISTINCT FROM OLD.state OR NEW.superseded_by IS DISTINCT FROM OLD.superseded_by THEN
			NEW.change_seq := nextval('strata.objects_change_seq');
			NEW.change_xid := pg_current_xact_id();
		END IF;
		RETURN NEW;
	END $$;
	CREATE INDEX objects_change_xid ON strata.objects (dataset, archive_type, change_xid);
	ALTER TABLE strata.table_publications
		ADD COLUMN snapshot pg_snapshot,
		ADD COLUMN table_state text NOT NULL DEFAULT '';`,
}

// migrationLock is the advisory lock key serialising migrations across
// processes (an arbitrary constant: "strata" in ASCII).
const migrationLock = 0x737472617461

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("catalog: migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("catalog: migrate: take lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS strata;
		CREATE TABLE IF NOT EXISTS strata.migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("catalog: migrate: create schema strata (does the database user have CREATE on the database?): %w", err)
	}
	var done int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM strata.migrations`).Scan(&done); err != nil {
		return fmt.Errorf("catalog: migrate: read version: %w", err)
	}
	if done > len(migrations) {
		return fmt.Errorf("catalog: schema strata is at version %d, newer than this strata (%d): upgrade strata", done, len(migrations))
	}
	for v := done + 1; v <= len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("catalog: migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO strata.migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("catalog: migration %d: %w", v, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("catalog: migrate: commit: %w", err)
	}
	return nil
}
