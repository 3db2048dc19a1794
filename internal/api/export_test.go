package api

import "context"

// RemoveExpiredOnce runs one pass of the expired-key clean-up.
func RemoveExpiredOnce(s *Server) int { return s.removeExpiredOnce(context.Background()) }

// TakeUnactionableDeadDrops makes the API store signed dead drops whatever
// their epoch and date until the test ends, for negative controls.
func TakeUnactionableDeadDrops(t interface{ Cleanup(func()) }) {
	testHookTakeUnactionable = true
	t.Cleanup(func() { testHookTakeUnactionable = false })
}
