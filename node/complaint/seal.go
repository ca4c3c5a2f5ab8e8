package complaint

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// A complainant's contact is sealed to the town's key before it enters the
// district's chain, because that chain reaches every node of the district,
// the village complained about included: a villager who gives a phone
// number must not be known to the people the complaint is about. The town
// signs its chain with an Ed25519 key; the same key, read as its X25519
// twin (RFC 7748 birational map), opens what was sealed to it. No new key
// needs handing out, and the district (which knows every origin's public
// key) can seal to any town.
//
// Format: version (1) | ephemeral X25519 public key (32) | nonce (12) |
// AES-256-GCM ciphertext; the key is HKDF-SHA256 of the shared secret,
// salted with both public keys.

const sealVersion = 1

// sealInfo binds the derived key to this use.
const sealInfo = "sanzi complaint contact v1"

// ErrSealed: a sealed contact that does not open with the key given (the
// town's key changed since, or the bytes are not a seal).
var ErrSealed = errors.New("complaint: the sealed contact does not open with this key")

// fieldP is 2^255 - 19.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// montgomery is the X25519 public key of an Ed25519 public key:
// u = (1 + y) / (1 - y) mod p.
func montgomery(pub ed25519.PublicKey) (*ecdh.PublicKey, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("complaint: an Ed25519 public key has %d bytes, not %d", ed25519.PublicKeySize, len(pub))
	}
	le := slices.Clone([]byte(pub))
	le[31] &= 0x7f // the sign of x
	slices.Reverse(le)
	y := new(big.Int).SetBytes(le)
	one := big.NewInt(1)
	den := new(big.Int).Mod(new(big.Int).Sub(one, y), fieldP)
	if den.Sign() == 0 {
		return nil, errors.New("complaint: the Ed25519 key has no X25519 twin")
	}
	u := new(big.Int).Mul(new(big.Int).Add(one, y), new(big.Int).ModInverse(den, fieldP))
	u.Mod(u, fieldP)
	out := make([]byte, 32)
	u.FillBytes(out)
	slices.Reverse(out)
	return ecdh.X25519().NewPublicKey(out)
}

// scalar is the X25519 private key of an Ed25519 private key: the first
// half of SHA-512 of its seed, the scalar Ed25519 itself uses (X25519
// clamps it the same way).
func scalar(priv ed25519.PrivateKey) (*ecdh.PrivateKey, error) {
	h := sha512.Sum512(priv.Seed())
	return ecdh.X25519().NewPrivateKey(h[:32])
}

// Seal encrypts plain so that only the holder of the Ed25519 private key of
// pub can read it.
func Seal(pub ed25519.PublicKey, plain []byte) ([]byte, error) {
	to, err := montgomery(pub)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("complaint: seal: %w", err)
	}
	shared, err := eph.ECDH(to)
	if err != nil {
		return nil, fmt.Errorf("complaint: seal: %w", err)
	}
	aead, err := sealKey(shared, eph.PublicKey(), to)
	if err != nil {
		return nil, err
	}
	out := append([]byte{sealVersion}, eph.PublicKey().Bytes()...)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, out[:1+32]), nil
}

// Open decrypts what Seal sealed to the public key of priv.
func Open(priv ed25519.PrivateKey, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+32+12+16 || sealed[0] != sealVersion {
		return nil, ErrSealed
	}
	me, err := scalar(priv)
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().NewPublicKey(sealed[1:33])
	if err != nil {
		return nil, ErrSealed
	}
	shared, err := me.ECDH(eph)
	if err != nil {
		return nil, ErrSealed
	}
	aead, err := sealKey(shared, eph, me.PublicKey())
	if err != nil {
		return nil, ErrSealed
	}
	nonce := sealed[33 : 33+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[33+aead.NonceSize():], sealed[:33])
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

// OpenAny decrypts with the first of keys that opens sealed: a town's
// current key, then the keys it rotated away from.
func OpenAny(sealed []byte, keys ...ed25519.PrivateKey) ([]byte, error) {
	err := ErrSealed
	for _, k := range keys {
		var plain []byte
		if plain, err = Open(k, sealed); err == nil {
			return plain, nil
		}
	}
	return nil, err
}

// sealKey is the AEAD keyed by the shared secret, salted with the
// ephemeral key and the recipient's.
func sealKey(shared []byte, eph, recipient *ecdh.PublicKey) (cipher.AEAD, error) {
	salt := append(slices.Clone(eph.Bytes()), recipient.Bytes()...)
	key, err := hkdf.Key(sha256.New, shared, salt, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("complaint: seal: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
