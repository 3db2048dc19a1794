package crypto_test

import "encoding/hex"

func hexDecode(dst []byte, s string) (int, error) { return hex.Decode(dst, []byte(s)) }
