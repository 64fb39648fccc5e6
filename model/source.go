package model

import "net/netip"

// Source is the network a client's connections count against when a
// server shares its places among clients (keyden ssh, keyden serve): its
// IPv4 address, or its IPv6 /64, since one IPv6 host is usually handed a
// whole /64 and, counted by address, could take a share from each of 2^64.
func Source(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, _ := ip.Prefix(bits) // drops an IPv6 zone
	return p
}
