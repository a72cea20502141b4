// Package vault encrypts personal data at rest with AES-256-GCM. Each
// ciphertext is stored beside the id of the key that sealed it, so keys can
// be rotated: new data is sealed with the current key, old data still opens
// with the keys kept for it.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Errors of Open.
var (
	// ErrUnknownKey: the ciphertext was sealed with a key we no longer have.
	ErrUnknownKey = errors.New("vault: unknown key id")
	// ErrNotAuthentic: the ciphertext was altered, or sealed for another
	// row (another aad).
	ErrNotAuthentic = errors.New("vault: ciphertext does not authenticate")
)

// Keyring holds the current key and the retired ones that still decrypt.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a keyring sealing with current and opening with every key.
// Each key is 32 bytes.
func New(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != 32 {
			return nil, fmt.Errorf("vault: key %d is %d bytes, want 32", i, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// KeyID names a key without revealing it: the start of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("leadgate-key-id:"), key...))
	return hex.EncodeToString(sum[:6])
}

// Current is the id of the key new data is sealed with.
func (k *Keyring) Current() string { return k.current }

// Seal encrypts plaintext bound to aad (the row's id, so that a ciphertext
// moved to another row does not open).
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return k.current, aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal returned.
func (k *Keyring) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, ErrUnknownKey
	}
	if len(ciphertext) < aead.NonceSize() {
		return nil, fmt.Errorf("%w: too short", ErrNotAuthentic)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, ErrNotAuthentic
	}
	return plain, nil
}
