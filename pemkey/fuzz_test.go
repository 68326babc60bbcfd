package pemkey

import (
	"crypto/aes"
	"crypto/des"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePKCS8 feeds arbitrary DER to the EncryptedPrivateKeyInfo
// parser, seeded with the files of testdata/ (PBES2 with each cipher and
// PRF, scrypt, PBES1). Invariants: no panic; an error is ErrMalformed or
// ErrUnsupported; a parse that succeeds gives what decryption relies on:
// a known cipher's key length, an IV of one block, whole blocks of
// ciphertext, a bounded iteration count.
func FuzzParsePKCS8(f *testing.F) {
	files, err := filepath.Glob("testdata/*.pem")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if b, _ := pem.Decode(data); b != nil && b.Type == typeEncryptedPKCS8 {
			f.Add(b.Bytes)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		p, err := parsePKCS8(der)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		size := aes.BlockSize
		if p.keyLen == 24 && len(p.iv) == des.BlockSize {
			size = des.BlockSize
		}
		switch {
		case p.keyLen != 16 && p.keyLen != 24 && p.keyLen != 32:
			t.Fatalf("key length %d", p.keyLen)
		case len(p.iv) != size:
			t.Fatalf("IV of %d bytes", len(p.iv))
		case len(p.data) == 0 || len(p.data)%size != 0:
			t.Fatalf("%d bytes of ciphertext", len(p.data))
		case p.iter < 1 || p.iter > maxIterations:
			t.Fatalf("%d iterations", p.iter)
		case p.prf == nil || p.block == nil:
			t.Fatal("no PRF or cipher")
		}
		if _, err := p.block(make([]byte, p.keyLen)); err != nil {
			t.Fatalf("the cipher refuses its own key length: %v", err)
		}
	})
}
