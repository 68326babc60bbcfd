// Package pemkey decrypts the password-protected PEM private keys that
// OpenSSL writes, so that gowsgi's master can read a --keyfile given
// with --ssl-keyfile-password (docs/tls.md). Go's standard library reads
// only unencrypted keys: it has no PKCS#8 decryption, and its legacy
// "Proc-Type: 4,ENCRYPTED" support (x509.DecryptPEMBlock) is deprecated.
//
// Two formats are read:
//
//   - PKCS#8 "ENCRYPTED PRIVATE KEY" (RFC 5958 §3) with PBES2 (RFC 8018
//     §6.2): PBKDF2 with HMAC-SHA1, -SHA224, -SHA256, -SHA384 or -SHA512,
//     and AES-128/192/256-CBC or DES-EDE3-CBC. That is what
//     `openssl genpkey -aes256`, `openssl pkcs8 -topk8 -v2 aes256` and
//     `openssl req -newkey` (without -nodes) write.
//   - Legacy PEM with "Proc-Type: 4,ENCRYPTED" and "DEK-Info" headers
//     (RFC 1421 §4.6.1), as `openssl rsa -aes256 -traditional` writes,
//     through x509.DecryptPEMBlock. Its key derivation is one MD5 round
//     and it cannot tell a wrong password from a right one reliably;
//     it is read because old keys exist, not recommended.
//
// PKCS#5 v1.5 and PKCS#12 PBE schemes (`openssl pkcs8 -v1 ...`) and
// scrypt are refused with ErrUnsupported, naming the algorithm.
//
// The package is stdlib-only and pure Go: the master (CGO_ENABLED=0)
// uses it through config.
package pemkey

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Errors. A caller tells them apart with errors.Is; none of them carries
// the password.
var (
	// ErrNoPassword: the key is encrypted and the password is empty.
	ErrNoPassword = errors.New("pemkey: the private key is encrypted and no password was given")
	// ErrIncorrectPassword: decryption failed or gave something that is
	// not a private key, which (for a well-formed file) means the
	// password is wrong.
	ErrIncorrectPassword = errors.New("pemkey: wrong password for the private key")
	// ErrUnsupported: an encryption scheme this package does not read.
	ErrUnsupported = errors.New("pemkey: unsupported key encryption")
	// ErrMalformed: the encrypted structure is not valid DER of RFC 5958
	// and RFC 8018.
	ErrMalformed = errors.New("pemkey: malformed encrypted private key")
)

// typeEncryptedPKCS8 is the PEM label of RFC 7468 §11.
const typeEncryptedPKCS8 = "ENCRYPTED PRIVATE KEY"

// Encrypted reports whether b is an encrypted private key of either
// format.
func Encrypted(b *pem.Block) bool {
	return b.Type == typeEncryptedPKCS8 || legacyEncrypted(b)
}

// legacyEncrypted: RFC 1421's "Proc-Type: 4,ENCRYPTED" header.
func legacyEncrypted(b *pem.Block) bool {
	return strings.HasSuffix(b.Type, "PRIVATE KEY") && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED")
}

// Decrypt returns the unencrypted block of an encrypted one: a PKCS#8
// key becomes "PRIVATE KEY" (PKCS#8 PrivateKeyInfo, RFC 5208 §5); a
// legacy one keeps its type ("RSA PRIVATE KEY", "EC PRIVATE KEY") without
// the headers. A block that is not encrypted is returned as it is.
func Decrypt(b *pem.Block, password []byte) (*pem.Block, error) {
	switch {
	case b.Type == typeEncryptedPKCS8:
		if len(password) == 0 {
			return nil, ErrNoPassword
		}
		der, err := decryptPKCS8(b.Bytes, password)
		if err != nil {
			return nil, err
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}, nil
	case legacyEncrypted(b):
		if len(password) == 0 {
			return nil, ErrNoPassword
		}
		der, err := decryptLegacy(b, password)
		if err != nil {
			return nil, err
		}
		return &pem.Block{Type: b.Type, Bytes: der}, nil
	}
	return b, nil
}

// DecryptAll returns the PEM data with every encrypted private key
// decrypted (Decrypt) and every other block unchanged, in order; text
// between blocks is dropped. It also reports whether any key was
// encrypted. Data with no encrypted key is returned as it is.
func DecryptAll(data, password []byte) (out []byte, encrypted bool, err error) {
	var buf bytes.Buffer
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if Encrypted(b) {
			encrypted = true
			if b, err = Decrypt(b, password); err != nil {
				return nil, true, err
			}
		}
		if err := pem.Encode(&buf, b); err != nil {
			return nil, encrypted, err
		}
	}
	if !encrypted {
		return data, false, nil
	}
	return buf.Bytes(), true, nil
}

// decryptLegacy decrypts an RFC 1421 block. The check that the result is
// a key matters: DecryptPEMBlock's padding check lets about one wrong
// password in 256 through.
func decryptLegacy(b *pem.Block, password []byte) ([]byte, error) {
	//lint:ignore SA1019 the legacy format is read on purpose (package doc)
	der, err := x509.DecryptPEMBlock(b, password) //nolint:staticcheck
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, ErrIncorrectPassword
	}
	if err != nil {
		// An unknown DEK-Info cipher or a bad IV: not a password matter.
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if !isPrivateKey(b.Type, der) {
		return nil, ErrIncorrectPassword
	}
	return der, nil
}

// isPrivateKey reports whether der parses as a private key of the PEM
// type's format.
func isPrivateKey(typ string, der []byte) bool {
	var err error
	switch typ {
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(der)
	default:
		_, err = x509.ParsePKCS8PrivateKey(der)
	}
	return err == nil
}
