package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// SecretPrefix starts every secret NewSecret makes, so that secret
// scanners and people recognise one in a file or a log.
const SecretPrefix = "strata_"

// NewSecret returns a new random secret (256 bits) and its hex SHA-256,
// the value server.tokens holds.
func NewSecret() (secret, sha string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics if the system cannot give randomness)
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, Hash(secret)
}

// Hash is the hex SHA-256 of a secret, as server.tokens holds it.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
