package azblob

// SetListPageSize lowers the List page size so tests exercise pagination.
func SetListPageSize(b *Backend, n int32) { b.listPageSize = n }
