package archive

import (
	"context"
	"fmt"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// probeBufferSize is the read buffer of a key column chunk read by range
// requests: a key column of a day object is usually a single request.
const probeBufferSize = 1 << 20

// HoldsKeys reports whether the committed object o holds a row with one of
// the keys (and whether it had to read the key columns to tell), reading as little of it as it can, by range requests: the
// footer (row group statistics) and the key columns' bloom filters first,
// and only when they cannot rule every key out, the key columns (no other
// column). Objects written before bloom filters existed are decided by
// statistics and key columns. It reads the object without checking its
// SHA-256 (a damaged footer or key column fails the read; `strata verify
// --deep` checks the bytes); a caller that then uses the rows reads the
// whole object, checked (CopyObject).
func (a *Archiver) HoldsKeys(ctx context.Context, o catalog.Object, ks *parquetio.KeySet) (hold, keyColumns bool, err error) {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return false, false, err
	}
	r, err := parquetio.OpenWith(storage.NewReaderAt(ctx, a.Store, key, o.VersionID), o.Bytes,
		parquetio.OpenOptions{BloomFilters: true, ReadBufferSize: probeBufferSize})
	if err != nil {
		return false, false, fmt.Errorf("%s: %w", o.Key, err)
	}
	may, err := r.MayHoldAny(ks)
	if err != nil || !may {
		return false, false, wrapKey(o.Key, err)
	}
	hold, err = r.HoldsAny(ctx, ks)
	return hold, true, wrapKey(o.Key, err)
}

func wrapKey(key string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}
