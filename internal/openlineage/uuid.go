package openlineage

import (
	"crypto/sha1"
	"fmt"
	"time"
)

// urlNamespace is RFC 9562's name space for names that are URLs.
var urlNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// RunID returns the OpenLineage run id of a Strata run: a name-based UUID
// (version 5, URL name space) of a name for the run, such as
// strata://orders/runs/42/1730451600000000 (dataset, strata.runs id, start
// in Unix microseconds). The same run always gets the same id, so anyone
// holding the catalog can find a run's events (strata lineage prints the id).
func RunID(runURL string) string {
	h := sha1.New()
	h.Write(urlNamespace[:])
	h.Write([]byte(runURL))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// StrataRunID is the OpenLineage run id of Strata run id of dataset,
// started at started (strata.runs.started_at): the same in every event of
// the run and in strata lineage's report, whatever host name a process
// reaches the database by, and after a dump and restore of the database.
func StrataRunID(dataset string, id int64, started time.Time) string {
	return RunID(fmt.Sprintf("strata://%s/runs/%d/%d", dataset, id, started.UnixMicro()))
}
