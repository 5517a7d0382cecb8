package openlineage

import (
	"crypto/sha1"
	"fmt"
)

// urlNamespace is RFC 9562's name space for names that are URLs.
var urlNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// RunID returns the OpenLineage run id of a Strata run: a name-based UUID
// (version 5) of a URL naming the run, such as
// postgres://db.example.com:5432/app/strata.runs/42. The same run always
// gets the same id, so its START and COMPLETE events match without any
// state kept between them, and anyone holding the catalog can find a run's
// events (strata lineage prints the id).
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
