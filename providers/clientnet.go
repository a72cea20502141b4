package providers

import (
	"net/netip"
	"strings"
)

// ClientNet is what per-client limits and budgets count by: an IPv4
// address itself, an IPv6 address's /64. One subscriber, one phone or one
// rented server is given a whole /64 and can send from any of its 2^64
// addresses; counted per address, a limit would be no limit at all.
// Anything that is not an address is its own key.
func ClientNet(ip string) string {
	if strings.IndexByte(ip, ':') < 0 {
		return ip // IPv4, as every request on the hot paths asks: no parsing
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if addr = addr.Unmap(); addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
