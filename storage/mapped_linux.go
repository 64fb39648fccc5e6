package storage

import "syscall"

// releaseMapped drops the pages of the n bytes of a read-only shared file
// mapping at addr from this process (MADV_DONTNEED): reading them again
// faults them back in from the page cache, unchanged.
func releaseMapped(addr uintptr, n int) {
	if addr != 0 && n > 0 {
		syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(n), syscall.MADV_DONTNEED)
	}
}
