package pipeline

import "unsafe"

// b2s and s2b view bytes as a string and back without copying. Used only
// where the view does not outlive the buffer it points into.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
