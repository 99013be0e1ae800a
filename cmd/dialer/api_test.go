package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dialer test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, pool
}

// TestServeAPI: `dialer serve -config testdata/api.yaml` (the README's
// example config, TLS added) serves the HTTP API over HTTPS: the OpenAPI
// document, /metrics only for the token with metrics:read, a refused
// emergency number, and a click-to-call placed on the fake Asterisk whose
// CDR ends answered; SIGTERM exits 0.
func TestServeAPI(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: slog.New(slog.DiscardHandler), Outcome: func(amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Answered, Ring: 20 * time.Millisecond, Talk: 100 * time.Millisecond}
	}})
	t.Cleanup(srv.Close)
	certFile, keyFile, pool := selfSigned(t)
	sd := startServe(t, []string{"FSIVR_AMI_ADDR=" + srv.Addr, "FSIVR_AMI_SECRET=secret", "FSIVR_HTTP=127.0.0.1:0",
		"FSIVR_API_TLS_CERT=" + certFile, "FSIVR_API_TLS_KEY=" + keyFile, "FSIVR_LOG_LEVEL=error",
		"FSIVR_SPOOL_DIR=" + filepath.Join(t.TempDir(), "spool")}, "serve", "-config", "testdata/api.yaml")
	cmd, addr := sd.cmd, sd.addr
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, path, body string) (int, map[string]any, string) {
		req, _ := http.NewRequest(method, "https://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer demo-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		return resp.StatusCode, v, resp.Header.Get("Content-Type")
	}
	if code, _, ct := do("GET", "/v1/openapi.yaml", ""); code != 200 || ct != "application/yaml" {
		t.Errorf("openapi over https: %d %s", code, ct)
	}
	if plain, err := http.Get("http://" + addr + "/v1/openapi.yaml"); err == nil {
		if plain.StatusCode == 200 {
			t.Error("the API answered over plain HTTP with TLS configured")
		}
		plain.Body.Close()
	}
	// /metrics shares the API's listener: a token with metrics:read only.
	if code, _, _ := do("GET", "/metrics", ""); code != http.StatusForbidden {
		t.Errorf("/metrics with the web token (no metrics:read): %d, want 403", code)
	}
	mreq, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer metrics-token")
	if resp, err := client.Do(mreq); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "fsivr_dialer_") {
			t.Errorf("/metrics with metrics:read: %d without the dialer's metrics", resp.StatusCode)
		}
	}
	if code, p, ct := do("POST", "/v1/calls", `{"number":"911","message":"reminder"}`); code != 403 || p["reason"] != "emergency_number" || ct != "application/problem+json" {
		t.Errorf("911: %d %v %s", code, p, ct)
	}
	code, c, _ := do("POST", "/v1/calls", `{"number":"+1 415 555 0101","message":"reminder"}`)
	if code != 202 {
		t.Fatalf("call: %d %v", code, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c["state"] != "ended" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		_, c, _ = do("GET", "/v1/calls/"+c["id"].(string), "")
	}
	if c["disposition"] != "answered" || c["number"] != "+14155550101" {
		t.Errorf("call CDR: %v", c)
	}
	origs := srv.ActionsNamed("Originate")
	if len(origs) != 1 || origs[0].Get("Application") != "Playback" || origs[0].Get("Data") != "custom/reminder" {
		t.Errorf("originates at the fake: %+v", origs)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve exit: %v", err)
	}
}
