package crypto

func (key *SharedKey) SealTwoPartyWithNonce(nonce *[NonceSize]byte, msg []byte) []byte {
	return key.sealTwoPartyWithNonce(nonce, msg)
}
