package retrieve

// SetChunkBytes makes a parallel write hand over chunks of about n bytes,
// so that a test's small objects span many.
func (r *Retriever) SetChunkBytes(n int) { r.chunkBytes = n }
