package pq

// SealBackupShare seals one recovery share of a journalist's vault backup
// (the share file in the clear, docs/PQ.md §5.8) to a colleague's X-Wing
// messaging key: HPKE base mode, info LabelBackupShare, empty AAD, so
// that the share file alone is of no use to whoever holds it, now or
// after X25519 falls. The label keeps a sealed share from ever opening as
// a message, and a message from opening as a share.
func SealBackupShare(colleague *PublicKey, share []byte) ([]byte, error) {
	out, _, err := sealHPKE(colleague, LabelBackupShare, share, false)
	return out, err
}

// OpenBackupShare opens a sealed share with one of the colleague's
// messaging keys; it returns crypto.ErrDecrypt when the share was sealed
// to another key or altered.
func OpenBackupShare(sk *PrivateKey, sealed []byte) ([]byte, error) {
	pt, _, err := openHPKE(sk, LabelBackupShare, sealed, false)
	return pt, err
}
