package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/server"
	"github.com/stratahq/strata/internal/testenv"
)

func TestServeAnswersHTTPSWithTLS12OrLaterOnly(t *testing.T) {
	certFile, keyFile, roots := testenv.TLSFiles(t)
	cfg, err := server.LoadTLS(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	e := buildEnv(t, envOptions{tls: cfg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { stop(); <-done })
	base := "https://" + ln.Addr().String()
	client := func(minV, maxV uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: minV, MaxVersion: maxV}}}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		resp, err := client(v, v).Get(base + "/healthz")
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS.Version != v {
			t.Fatalf("%s: %d %s", tls.VersionName(v), resp.StatusCode, b)
		}
	}
	_, err = client(tls.VersionTLS10, tls.VersionTLS11).Get(base + "/healthz")
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1: %v, want a handshake refused for its protocol version", err)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP on the HTTPS port: %d, want 400", resp.StatusCode)
		}
	}
}

func TestLoadTLSSaysWhichFilesAreWrong(t *testing.T) {
	certFile, _, _ := testenv.TLSFiles(t)
	_, err := server.LoadTLS(certFile, certFile)
	if err == nil || !strings.Contains(err.Error(), "server.tls_key "+certFile) || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("LoadTLS(cert, cert) = %v", err)
	}
}
