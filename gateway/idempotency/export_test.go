package idempotency

import "time"

// WaitSettled waits up to bound until nothing is queued or being sent,
// and says whether it got there.
func (s *Redis) WaitSettled(bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		s.mu.Lock()
		idle := len(s.pending) == 0 && !s.sending
		s.mu.Unlock()
		if idle {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// Pending is how many settlements are queued.
func (s *Redis) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}
