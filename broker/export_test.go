package broker

// SetTestHookPhase sets testHookPhase for the external tests and returns
// a function that clears it.
func SetTestHookPhase(f func(b *Broker, phase string)) func() {
	testHookPhase = f
	return func() { testHookPhase = nil }
}
