package pemkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
)

// Object identifiers of RFC 8018 (PKCS #5 v2.1), Appendix A and B, and
// of NIST's AES modes (RFC 3565 §4.1).
var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11} // RFC 7914 §7

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

// maxIterations bounds PBKDF2's iteration count: OpenSSL writes 2048 by
// default and guides recommend up to about a million; far more is a
// broken or hostile file that would hold the master for minutes.
const maxIterations = 10_000_000

// The prfs PBKDF2 may name (RFC 8018 §B.1.1-B.1.2).
var prfs = []struct {
	oid  asn1.ObjectIdentifier
	name string
	hash func() hash.Hash
}{
	{oidHMACWithSHA1, "hmacWithSHA1", sha1.New},
	{oidHMACWithSHA224, "hmacWithSHA224", sha256.New224},
	{oidHMACWithSHA256, "hmacWithSHA256", sha256.New},
	{oidHMACWithSHA384, "hmacWithSHA384", sha512.New384},
	{oidHMACWithSHA512, "hmacWithSHA512", sha512.New},
}

// The ciphers PBES2 may name (RFC 8018 §B.2), all CBC with RFC 8018
// §6.1.1 padding: parameters are the IV, one block long.
var ciphers = []struct {
	oid    asn1.ObjectIdentifier
	name   string
	keyLen int
	block  func(key []byte) (cipher.Block, error)
}{
	{oidAES128CBC, "aes128-CBC", 16, aes.NewCipher},
	{oidAES192CBC, "aes192-CBC", 24, aes.NewCipher},
	{oidAES256CBC, "aes256-CBC", 32, aes.NewCipher},
	{oidDESEDE3CBC, "des-EDE3-CBC", 24, des.NewTripleDESCipher},
}

// EncryptedPrivateKeyInfo, RFC 5958 §3:
//
//	SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
type encryptedPrivateKeyInfo struct {
	Algo          pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// PBES2-params, RFC 8018 §A.4.
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// PBKDF2-params, RFC 8018 §A.2. Salt is a CHOICE whose otherSource
// alternative no tool writes; it is read raw and refused. prf defaults
// to hmacWithSHA1 when absent.
type pbkdf2Params struct {
	Salt           asn1.RawValue
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pbes2 is a parsed PKCS#8 EncryptedPrivateKeyInfo with PBES2: all that
// decryption needs, checked.
type pbes2 struct {
	prf    func() hash.Hash
	salt   []byte
	iter   int
	keyLen int
	block  func(key []byte) (cipher.Block, error)
	iv     []byte
	data   []byte // the ciphertext: whole blocks, at least one
}

// unmarshalAll is asn1.Unmarshal that refuses trailing bytes.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: %d bytes after the structure", ErrMalformed, len(rest))
	}
	return nil
}

// parsePKCS8 parses and checks an EncryptedPrivateKeyInfo without
// deriving anything (the fuzz target's subject). Errors are
// ErrMalformed or ErrUnsupported, wrapped with the detail.
func parsePKCS8(der []byte) (*pbes2, error) {
	var info encryptedPrivateKeyInfo
	if err := unmarshalAll(der, &info); err != nil {
		return nil, err
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("%w: scheme %v is not PBES2 (an old PKCS#5 v1.5 or PKCS#12 scheme?): "+
			"re-encrypt it with openssl pkcs8 -topk8 -v2 aes256", ErrUnsupported, info.Algo.Algorithm)
	}
	var params pbes2Params
	if err := unmarshalAll(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, err
	}
	p := &pbes2{data: info.EncryptedData}
	if err := p.setKDF(params.KeyDerivationFunc); err != nil {
		return nil, err
	}
	if err := p.setCipher(params.EncryptionScheme); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pbes2) setKDF(kdf pkix.AlgorithmIdentifier) error {
	if kdf.Algorithm.Equal(oidScrypt) {
		return fmt.Errorf("%w: scrypt key derivation; re-encrypt the key with openssl pkcs8 -topk8 -v2 aes256 (PBKDF2)", ErrUnsupported)
	}
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return fmt.Errorf("%w: key derivation %v is not PBKDF2", ErrUnsupported, kdf.Algorithm)
	}
	var kp pbkdf2Params
	if err := unmarshalAll(kdf.Parameters.FullBytes, &kp); err != nil {
		return err
	}
	if kp.Salt.Class != asn1.ClassUniversal || kp.Salt.Tag != asn1.TagOctetString || kp.Salt.IsCompound {
		return fmt.Errorf("%w: PBKDF2 salt from another source", ErrUnsupported)
	}
	p.salt = kp.Salt.Bytes
	if kp.IterationCount < 1 || kp.IterationCount > maxIterations {
		return fmt.Errorf("%w: PBKDF2 iteration count %d outside 1..%d", ErrUnsupported, kp.IterationCount, maxIterations)
	}
	p.iter = kp.IterationCount
	p.keyLen = kp.KeyLength // checked against the cipher's in setCipher
	if len(kp.PRF.Algorithm) == 0 {
		p.prf = sha1.New // RFC 8018 §A.2: DEFAULT algid-hmacWithSHA1
		return nil
	}
	for _, f := range prfs {
		if kp.PRF.Algorithm.Equal(f.oid) {
			p.prf = f.hash
			return nil
		}
	}
	return fmt.Errorf("%w: PBKDF2 pseudo-random function %v", ErrUnsupported, kp.PRF.Algorithm)
}

func (p *pbes2) setCipher(enc pkix.AlgorithmIdentifier) error {
	for _, c := range ciphers {
		if !enc.Algorithm.Equal(c.oid) {
			continue
		}
		if p.keyLen != 0 && p.keyLen != c.keyLen {
			return fmt.Errorf("%w: PBKDF2 key length %d for %s", ErrMalformed, p.keyLen, c.name)
		}
		p.keyLen, p.block = c.keyLen, c.block
		if err := unmarshalAll(enc.Parameters.FullBytes, &p.iv); err != nil {
			return err
		}
		size := aes.BlockSize
		if c.oid.Equal(oidDESEDE3CBC) {
			size = des.BlockSize
		}
		if len(p.iv) != size {
			return fmt.Errorf("%w: %s IV of %d bytes", ErrMalformed, c.name, len(p.iv))
		}
		if len(p.data) == 0 || len(p.data)%size != 0 {
			return fmt.Errorf("%w: %d bytes of ciphertext for %s", ErrMalformed, len(p.data), c.name)
		}
		return nil
	}
	return fmt.Errorf("%w: cipher %v (gowsgi reads AES-CBC and DES-EDE3-CBC)", ErrUnsupported, enc.Algorithm)
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 8018 §6.2.2) and
// returns the PrivateKeyInfo DER.
func decryptPKCS8(der, password []byte) ([]byte, error) {
	p, err := parsePKCS8(der)
	if err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(p.prf, string(password), p.salt, p.iter, p.keyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	block, err := p.block(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	plain := make([]byte, len(p.data))
	cipher.NewCBCDecrypter(block, p.iv).CryptBlocks(plain, p.data)
	plain, ok := unpad(plain, block.BlockSize())
	if !ok || !isPrivateKeyInfo(plain) {
		// Almost surely the password: a wrong key gives random bytes.
		return nil, ErrIncorrectPassword
	}
	return plain, nil
}

// unpad removes RFC 8018 §6.1.1 padding: 1 to size bytes, each equal to
// their count.
func unpad(b []byte, size int) ([]byte, bool) {
	n := int(b[len(b)-1])
	if n == 0 || n > size || n > len(b) {
		return nil, false
	}
	for _, v := range b[len(b)-n:] {
		if int(v) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// isPrivateKeyInfo reports whether b is the DER of a PrivateKeyInfo
// (RFC 5208 §5) of any algorithm: then the password was right, even if
// the key's algorithm is one TLS will later refuse (with its own error).
func isPrivateKeyInfo(b []byte) bool {
	var info struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
		Attributes asn1.RawValue `asn1:"optional"` // RFC 5958 §2: [0] attributes
		PublicKey  asn1.RawValue `asn1:"optional"` // and [1] publicKey
	}
	rest, err := asn1.Unmarshal(b, &info)
	return err == nil && len(rest) == 0
}
