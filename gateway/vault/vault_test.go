package vault

import (
	"bytes"
	"errors"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenAndRotation(t *testing.T) {
	old, _ := New(key(1))
	id, ct := old.Seal([]byte("Kyle Trazo"), []byte("app-1"))
	if bytes.Contains(ct, []byte("Kyle")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	rotated, err := New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Current() == id {
		t.Error("rotation kept the old key current")
	}
	got, err := rotated.Open(id, ct, []byte("app-1"))
	if err != nil || string(got) != "Kyle Trazo" {
		t.Errorf("after rotation: got %q, %v", got, err)
	}
	if got, err := rotated.Open(id, ct, []byte("app-2")); !errors.Is(err, ErrNotAuthentic) || got != nil {
		t.Errorf("under another row's id: got %q, %v; want nothing and ErrNotAuthentic", got, err)
	}
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	if got, err := rotated.Open(id, flipped, []byte("app-1")); !errors.Is(err, ErrNotAuthentic) || got != nil {
		t.Errorf("one bit flipped: got %q, %v; want nothing and ErrNotAuthentic", got, err)
	}
	if _, err := rotated.Open(id, ct[:5], []byte("app-1")); !errors.Is(err, ErrNotAuthentic) {
		t.Errorf("cut short: got %v, want ErrNotAuthentic", err)
	}
	fresh, _ := New(key(3))
	if _, err := fresh.Open(id, ct, []byte("app-1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("got %v, want ErrUnknownKey", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("accepted a short key")
	}
}

// Every seal takes a fresh nonce: GCM under one key with a repeated nonce
// gives away the XOR of the plaintexts and the authentication key.
func TestSealNeverRepeatsANonce(t *testing.T) {
	k, _ := New(key(4))
	seen := map[string]bool{}
	for range 100 {
		_, ct := k.Seal([]byte("Kyle Trazo"), []byte("app-1"))
		nonce := string(ct[:12])
		if seen[nonce] {
			t.Fatalf("nonce %x used twice", nonce)
		}
		seen[nonce] = true
	}
}
