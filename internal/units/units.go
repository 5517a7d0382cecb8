// Package units formats quantities for people: sizes in binary units.
package units

import "strconv"

// Bytes formats n as B, KiB, MiB, GiB, ... with one decimal.
func Bytes(n int64) string { return string(AppendBytes(nil, n)) }

// AppendBytes appends Bytes(n) to dst, for pages that format many sizes.
func AppendBytes(dst []byte, n int64) []byte {
	const unit = 1024
	if n < unit {
		return append(strconv.AppendInt(dst, n, 10), " B"...)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	dst = strconv.AppendFloat(dst, float64(n)/float64(div), 'f', 1, 64)
	return append(dst, ' ', "KMGTPE"[exp], 'i', 'B')
}
