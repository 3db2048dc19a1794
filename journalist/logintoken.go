package journalist

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// LoginTokenTTL is how long an unlock form stays good.
const LoginTokenTTL = 15 * time.Minute

// loginTokens issues and checks the unlock form's anti-CSRF tokens
// without keeping any: a token is a random nonce, its expiry and a MAC of
// both under a key made when the UI starts, and it must come back both in
// the form and in the SameSite=Strict cookie set with it. Any web page can
// make a browser GET the unlock page, as often as it likes; each GET
// costs the UI no memory, so the number of tokens outstanding is
// unbounded while the memory they take stays zero (the key, 32 bytes).
//
// A token is not one-time: within its 15 minutes it may unlock more than
// once, but only together with its cookie, which no other site can read
// or send (SameSite=Strict), and each try costs the full passphrase
// stretch.
type loginTokens struct {
	key [32]byte
}

// onLoginToken, when set (tests only), is called with every token issued.
var onLoginToken func(string)

func newLoginTokens() loginTokens {
	var l loginTokens
	if _, err := rand.Read(l.key[:]); err != nil {
		panic(err)
	}
	return l
}

const (
	loginNonce = 16
	loginMAC   = 16
	loginToken = loginNonce + 8 + loginMAC
)

func (l *loginTokens) mac(body []byte) []byte {
	m := hmac.New(sha256.New, l.key[:])
	m.Write(body)
	return m.Sum(nil)[:loginMAC]
}

// issue returns a new token good for LoginTokenTTL from now.
func (l *loginTokens) issue(now time.Time) string {
	b := make([]byte, loginNonce, loginToken)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(now.Add(LoginTokenTTL).Unix()))
	t := hex.EncodeToString(append(b, l.mac(b)...))
	if onLoginToken != nil {
		onLoginToken(t)
	}
	return t
}

// valid reports whether t is a token this UI issued that has not expired.
func (l *loginTokens) valid(t string, now time.Time) bool {
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != loginToken {
		return false
	}
	body := b[:loginNonce+8]
	if !hmac.Equal(l.mac(body), b[loginNonce+8:]) {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(body[loginNonce:]))
	return now.Unix() <= exp
}
