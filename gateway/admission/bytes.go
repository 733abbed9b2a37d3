package admission

import "unsafe"

// s2b views a string's bytes without copying; the view must not be
// written to or outlive the string.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
