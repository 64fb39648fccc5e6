//go:build !linux

package storage

// releaseMapped keeps the mapping as it is where MADV_DONTNEED is not
// known to leave a shared file mapping's contents as they were.
func releaseMapped(addr uintptr, n int) {}
