package s3

// SetListPageSize lowers List's page size so tests exercise pagination.
func SetListPageSize(b *Backend, n int32) { b.listPageSize = n }
