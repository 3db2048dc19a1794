package api

import "context"

// RemoveExpiredOnce runs one pass of the expired-key clean-up.
func RemoveExpiredOnce(s *Server) int { return s.removeExpiredOnce(context.Background()) }
