package canary

// SetTestHookSendAtOnce sets testHookSendAtOnce for the external tests.
func SetTestHookSendAtOnce(on bool) { testHookSendAtOnce = on }
