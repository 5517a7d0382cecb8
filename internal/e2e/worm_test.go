package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/s3"
	"github.com/stratahq/strata/internal/testenv"
)

// wormObject is a committed object as the catalog records it.
type wormObject struct {
	id                      int64
	key, day, mode, version string
	expiresAt, retainUntil  time.Time
}

// TestWriteOnceRetentionKeepsObjectsUntilTheirDayBasedExpiry archives two
// days of orders with archive.immutability governance and an
// archive.retention chosen so that the older day's objects expire about 75
// seconds into the test, then checks, on an S3 bucket with Object Lock
// (versitygw) and on a local disk:
//
//   - every object expires at the end of its day + archive.retention, as
//     PostgreSQL computes it, and records that as its retain-until, with
//     mode governance and (S3) its version; catalog list shows them;
//   - (S3) deleting the object's version through the S3 API is refused;
//   - (S3) another writer's object put on top of it leaves the original:
//     retrieve still returns the original rows, verify names the object;
//   - purge before the retention ends leaves the objects, even one whose
//     catalog expiry has passed while its retain-until has not; after the
//     retain-until it deletes the object (every version of it) and verify
//     is clean again.
func TestWriteOnceRetentionKeepsObjectsUntilTheirDayBasedExpiry(t *testing.T) {
	for _, b := range []string{backendS3Locked, backendLocal} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			writeOnceRetention(t, b)
		})
	}
}

func writeOnceRetention(t *testing.T, backend string) {
	start := time.Now()
	// Days today-3 and today-2 are archived (analytics.retention 1d); the
	// older one expires at today-2 00:00 + retention = about now + 75 s
	// (an upload asks for a retention ending at least a minute ahead).
	today := time.Now().UTC().Truncate(24 * time.Hour)
	secs := int64(time.Since(today.AddDate(0, 0, -2)).Seconds()) + 75
	entry := testenv.Dataset{Name: dataset, Key: keyColumn, TimeColumn: timeColumn, Retention: "1d",
		Extra: fmt.Sprintf("archive:\n  retention: %ds\n  immutability: governance", secs)}
	w := newWorldOf(t, backend, entry)
	w.createOrders(4, 20)
	w.takeReference()
	r := w.mustSucceed(nil, "archive")
	if backend == backendLocal && !strings.Contains(r.stderr, "not WORM") {
		t.Errorf("archive with immutability on a local disk: want a warning that it is not WORM: %s", r)
	}
	objs := w.wormObjects()
	if len(objs) != 2 {
		t.Fatalf("%d committed objects, want 2 (days 3 and 2 ago)", len(objs))
	}
	w.checkDayBasedExpiry(secs, backend == backendS3Locked)
	w.checkCatalogList(objs)
	// The Delta table's log is kept under retention too, like the audit
	// anchors: the storage states it on the first commit.
	if info, err := w.store.Stat(context.Background(), storage.MustKey(append(deltaLog(), fmt.Sprintf("%020d.json", 0))...)); err != nil ||
		info.Retention.Mode != storage.RetentionGovernance {
		t.Errorf("the Delta log's first commit: %+v (err %v), want governance retention", info.Retention, err)
	}
	first, second := objs[0], objs[1]
	scenario, checksum := "write-once retention (governance, local disk: not WORM): purge before and after retain-until", "0"
	if backend == backendS3Locked {
		w.checkDirectDeleteRefused(first)
		w.overwriteAndCheckReads(first, second)
		scenario = "write-once retention (governance): direct delete of a version refused, overwrite by another writer, purge before and after retain-until"
		checksum = "0; the overwritten object named by verify, its original rows retrieved"
	}
	w.checkPurgeBeforeRetention(first, second)
	w.checkPurgeAfterRetention(first, second)
	figures.add(t, figure{Order: "9", Scenario: scenario, Backend: backend, Runs: w.archiveRuns,
		Rows: w.count(`SELECT count(*) FROM ref`), Lost: "-", Duplicated: "-", Checksum: checksum,
		Orphans: "0", Wall: time.Since(start)})
}

// wormObjects lists the committed objects, oldest day first.
func (w *world) wormObjects() []wormObject {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT id, key, day::text, coalesce(retention_mode, ''),
		coalesce(version_id, ''), expires_at, coalesce(retain_until, 'epoch') FROM strata.objects ORDER BY day, id`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []wormObject
	for rows.Next() {
		var o wormObject
		if err := rows.Scan(&o.id, &o.key, &o.day, &o.mode, &o.version, &o.expiresAt, &o.retainUntil); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// checkDayBasedExpiry checks each object's expiry and retention against
// PostgreSQL's own date arithmetic: end of its day + archive.retention.
func (w *world) checkDayBasedExpiry(secs int64, versions bool) {
	w.t.Helper()
	if n := w.count(`SELECT count(*) FROM strata.objects
		WHERE expires_at IS DISTINCT FROM ((day + 1)::timestamp AT TIME ZONE 'UTC') + make_interval(secs => $1)
		   OR retain_until IS DISTINCT FROM expires_at OR retention_mode IS DISTINCT FROM 'governance'`, secs); n != 0 {
		w.t.Errorf("%d objects do not expire (and retain) until the end of their day + %ds in governance mode", n, secs)
	}
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE version_id IS NULL`); versions && n != 0 {
		w.t.Errorf("%d objects record no version on a versioned bucket", n)
	}
}

// checkCatalogList checks that catalog list --objects shows each object's
// retention and version.
func (w *world) checkCatalogList(objs []wormObject) {
	w.t.Helper()
	r := w.mustSucceed(nil, "catalog", "list", "--objects")
	for _, o := range objs {
		want := o.key + " .* governance " + o.retainUntil.UTC().Format(time.RFC3339)
		line := lineWith(r.stdout, o.key)
		if !strings.Contains(line, "governance "+o.retainUntil.UTC().Format(time.RFC3339)) ||
			(o.version != "" && !strings.Contains(line, o.version)) {
			w.t.Errorf("catalog list --objects: want a line %q with version %q:\n%s", want, o.version, r.stdout)
		}
	}
	if day := lineWith(w.mustSucceed(nil, "catalog", "list").stdout, objs[0].day); !strings.Contains(day, "governance") {
		w.t.Errorf("catalog list: the day %s shows no retention: %q", objs[0].day, day)
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// rawS3 is the world's bucket through the S3 API itself, as another holder
// of the credentials sees it.
func (w *world) rawS3() (*awss3.Client, string) {
	w.t.Helper()
	b, ok := w.store.(*s3.Backend)
	if !ok {
		w.t.Fatalf("the world's store is %T, not S3", w.store)
	}
	return b.Client(), b.Config().Bucket
}

// checkDirectDeleteRefused deletes the object's version through the S3 API
// (as anyone holding the key could) and expects Object Lock to refuse.
func (w *world) checkDirectDeleteRefused(o wormObject) {
	w.t.Helper()
	c, bucket := w.rawS3()
	ctx := context.Background()
	_, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), VersionId: aws.String(o.version)})
	if err == nil {
		w.t.Fatalf("S3 deleted version %s of %s under governance retention", o.version, o.key)
	}
	w.t.Logf("direct delete of %s version %s refused: %v", o.key, o.version, err)
	rc, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), VersionId: aws.String(o.version)})
	if err != nil {
		w.t.Fatalf("the version is gone after a refused delete: %v", err)
	}
	rc.Body.Close()
}

// overwriteAndCheckReads puts other bytes (the other object's, a valid
// Parquet file of other rows) on top of o's key as another writer, then
// checks that retrieve returns o's original rows and verify names o.
func (w *world) overwriteAndCheckReads(o, other wormObject) {
	w.t.Helper()
	c, bucket := w.rawS3()
	ctx := context.Background()
	got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(other.key)})
	if err != nil {
		w.t.Fatal(err)
	}
	var impostor bytes.Buffer
	_, err = impostor.ReadFrom(got.Body)
	got.Body.Close()
	if err != nil {
		w.t.Fatal(err)
	}
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key), Body: bytes.NewReader(impostor.Bytes())})
	if err != nil {
		w.t.Fatalf("another writer's put on %s: %v", o.key, err)
	}
	if v := aws.ToString(put.VersionId); v == "" || v == o.version {
		w.t.Fatalf("the other writer's put made version %q, want a new one beside %s", v, o.version)
	}
	r := w.mustSucceed(nil, "retrieve", "--dataset", dataset, "--type", "analytics", "--from", o.day, "--to", o.day,
		"--columns", keyColumn, "--format", "csv")
	gotIDs := strings.Fields(r.stdout)[1:]
	want := w.ids(`SELECT `+keyColumn+`::text FROM ref WHERE `+timeColumn+` >= $1::date AND `+timeColumn+` < $1::date + 1 ORDER BY 1`, o.day)
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, want) {
		w.t.Errorf("retrieve of day %s after the overwrite returned keys %v, want the original %v", o.day, gotIDs, want)
	}
	v := w.strata(nil, "verify")
	if v.code != 3 || !strings.Contains(v.stdout, "overwritten "+o.key) {
		w.t.Errorf("verify after the overwrite: want exit 3 naming %s overwritten: %s", o.key, v)
	}
}

// ids runs a query returning one text column.
func (w *world) ids(sql string, args ...any) []string {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), sql, args...)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// checkPurgeBeforeRetention runs purge while both objects are under their
// retention: nothing goes, not even the second object after its catalog
// expiry is moved into the past (its retain-until has not ended).
func (w *world) checkPurgeBeforeRetention(first, second wormObject) {
	w.t.Helper()
	w.mustSucceed(nil, "purge")
	w.exec(`UPDATE strata.objects SET expires_at = now() - interval '1 second' WHERE id = $1`, second.id)
	r := w.mustSucceed(nil, "purge")
	if !strings.Contains(r.stdout, "1 more past it wait for their write-once retention") {
		w.t.Errorf("purge: want it to say that 1 object waits for its retention: %s", r)
	}
	w.exec(`UPDATE strata.objects SET expires_at = retain_until WHERE id = $1`, second.id)
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE state = 'committed'`); n != 2 {
		w.t.Fatalf("%d objects committed after purge before their retention ended, want 2", n)
	}
	for _, o := range []wormObject{first, second} {
		if !w.present(o.key) {
			w.t.Errorf("%s left storage before its retention ended", o.key)
		}
	}
}

// checkPurgeAfterRetention waits for the first object's retain-until and
// purges: it goes (every version of it, the other writer's too), the
// second stays, and verify is clean, reporting the second's retention.
func (w *world) checkPurgeAfterRetention(first, second wormObject) {
	w.t.Helper()
	wait := time.Until(first.retainUntil) + 2*time.Second
	if wait > 2*time.Minute {
		w.t.Fatalf("the first object's retention ends in %s: the test's arithmetic is off", wait)
	}
	time.Sleep(wait)
	r := w.mustSucceed(nil, "purge")
	if !strings.Contains(r.stdout, "expired "+first.key) {
		w.t.Errorf("purge after the retention: want %s expired: %s", first.key, r)
	}
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE id = $1 AND state = 'expired'`, first.id); n != 1 {
		w.t.Errorf("%s is not marked expired", first.key)
	}
	if w.present(first.key) {
		w.t.Errorf("%s (or a version of it) is still in storage after purge", first.key)
	}
	if !w.present(second.key) {
		w.t.Errorf("%s, still under retention, left storage", second.key)
	}
	v := w.mustSucceed(nil, "verify", "--retention")
	if line := lineWith(v.stdout, "retention "+second.key); !strings.Contains(line, "governance "+second.retainUntil.UTC().Format(time.RFC3339)) {
		w.t.Errorf("verify --retention: want %s under governance until %s as the storage states it: %s", second.key, second.retainUntil, v)
	}
}

// present reports whether anything of key (on S3: any version) is in storage.
func (w *world) present(key string) bool {
	w.t.Helper()
	if w.backend != backendS3Locked {
		_, err := w.store.Stat(context.Background(), storage.MustKey(strings.Split(key, "/")...))
		return err == nil
	}
	c, bucket := w.rawS3()
	out, err := c.ListObjectVersions(context.Background(), &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(out.Versions) > 0
}

// TestVerifyRepairProtectsObjectsArchivedBeforeImmutability turns
// archive.immutability on over an archive written without it: verify names
// every object as unprotected and says how to fix it, verify --repair puts
// each under the retention it should have had (until its expiry) and
// records it, after which verify is clean and the storage itself refuses
// to delete the version.
func TestVerifyRepairProtectsObjectsArchivedBeforeImmutability(t *testing.T) {
	for _, b := range []string{backendS3Locked, backendLocal} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			protectLater(t, b)
		})
	}
}

func protectLater(t *testing.T, backend string) {
	entry := testenv.Dataset{Name: dataset, Key: keyColumn, TimeColumn: timeColumn, Retention: "1d",
		Extra: "archive:\n  retention: 30d"}
	w := newWorldOf(t, backend, entry)
	w.createOrders(4, 20)
	w.mustSucceed(nil, "archive")
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE retention_mode IS NULL AND retain_until IS NULL`); n != 2 {
		t.Fatalf("%d objects archived without retention, want 2", n)
	}
	cfg, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(cfg), "      retention: 30d\n", "      retention: 30d\n      immutability: governance\n", 1)
	if on == string(cfg) {
		t.Fatalf("the config has no archive retention line to add immutability under:\n%s", cfg)
	}
	if err := os.WriteFile(w.config, []byte(on), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := w.wormObjects()
	v := w.strata(nil, "verify")
	for _, o := range objs {
		if line := lineWith(v.stdout, "retention "+o.key); v.code != 3 || !strings.Contains(line, "strata verify --repair") {
			t.Errorf("verify after turning immutability on: want exit 3 naming %s as unprotected, with the fix: %s", o.key, v)
		}
	}
	r := w.mustSucceed(nil, "verify", "--repair")
	for _, o := range objs {
		if !strings.Contains(lineWith(r.stdout, "repaired "+o.key), "put under governance "+o.expiresAt.UTC().Format(time.RFC3339)) {
			t.Errorf("verify --repair: want %s put under governance until its expiry %s: %s", o.key, o.expiresAt, r)
		}
	}
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE retention_mode = 'governance' AND retain_until = expires_at`); n != 2 {
		t.Errorf("%d objects record governance retention until their expiry after the repair, want 2", n)
	}
	if v := w.mustSucceed(nil, "verify", "--retention"); !strings.Contains(v.stdout, "verify: ok") {
		t.Errorf("verify after the repair: %s", v)
	}
	if backend == backendS3Locked {
		w.checkDirectDeleteRefused(objs[0])
		return
	}
	err = w.store.Delete(context.Background(), storage.MustKey(strings.Split(objs[0].key, "/")...))
	if !errors.Is(err, storage.ErrImmutable) {
		t.Errorf("local delete of a repaired object: %v, want ErrImmutable", err)
	}
}
