package journalist

// SetOnLoginToken sets a hook called with every login token issued
// (nil removes it).
func SetOnLoginToken(f func(string)) { onLoginToken = f }
