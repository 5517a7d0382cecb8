package cli

import (
	"log/slog"
	"net"
	"net/netip"

	"github.com/stratahq/strata/internal/config"
)

// checkExposure refuses, before anything is opened, an API without tokens
// on an address other than loopback: anyone who could reach it could read
// every archived row and ingest records.
func checkExposure(srv config.Server) error {
	if len(srv.Tokens) > 0 {
		return nil
	}
	host, _, _ := net.SplitHostPort(srv.Listen) // validated with the configuration
	if host == "localhost" {
		return nil // checked again once listening (checkListener)
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return nil
	}
	return exposureErr(srv.Listen)
}

// checkListener is checkExposure on the address actually listened on
// (localhost may resolve to anything).
func checkListener(srv config.Server, addr net.Addr) error {
	if len(srv.Tokens) > 0 {
		return nil
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return nil
	}
	return exposureErr(addr.String())
}

func exposureErr(listen string) error {
	return usageErr("serve: no server.tokens are configured, so the API would let anyone who can reach %s read every archived row and ingest records; "+
		"refusing to listen on anything but loopback. Either listen on loopback (--listen 127.0.0.1:8080), or create tokens "+
		"(strata token create --name NAME --scopes read --datasets DATASET) and add the lines it prints under server.tokens in strata.yaml", listen)
}

// warnExposure logs when tokens would cross a network in clear text.
func warnExposure(log *slog.Logger, srv config.Server, addr net.Addr) {
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsLoopback() && srv.TLSCert == "" {
		log.Warn("serving plain HTTP beyond loopback: tokens and data cross the network unencrypted; set server.tls_cert and server.tls_key, or put a TLS proxy in front", "addr", addr.String())
	}
}
