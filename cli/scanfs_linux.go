package cli

import "syscall"

// pseudoFS says path is on a file system of the kernel's own (proc, sysfs,
// cgroups, debugfs…): files there are not text anyone commits, and some
// never end (/proc/kcore), so `keyden scan /` walks past them.
func pseudoFS(path string) bool {
	var st syscall.Statfs_t
	if syscall.Statfs(path, &st) != nil {
		return false
	}
	switch uint32(st.Type) {
	case 0x9fa0, // proc
		0x62656572, // sysfs
		0x1cd1,     // devpts
		0x27e0eb,   // cgroup
		0x63677270, // cgroup2
		0x64626720, // debugfs
		0x74726163, // tracefs
		0x73636673, // securityfs
		0xcafe4a11, // bpf
		0x6e736673, // nsfs
		0x42494e4d: // binfmt_misc
		return true
	}
	return false
}
