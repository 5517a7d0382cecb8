package server

import (
	"crypto/tls"
	"fmt"
)

// LoadTLS reads server.tls_cert and server.tls_key (PEM) into the TLS
// configuration Serve answers HTTPS with: TLS 1.2 or later, Go's default
// cipher suites (forward secrecy, AEAD only).
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls_cert %s and server.tls_key %s: %w (both must be PEM files: the certificate chain, leaf first, and its unencrypted private key)", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}
