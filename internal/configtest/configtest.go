// Package configtest runs the table tests of a configuration section's
// validation: each case changes a valid section and names the setting the
// refusal must mention, or none when the change is still valid.
package configtest

import (
	"strings"
	"testing"
)

// Case is one change to a valid section C.
type Case[C any] struct {
	Name string
	Mod  func(*C)
	Want string // "" = still valid; else a text the error must contain
}

// Run applies each case to a fresh valid section from base and checks the
// verdict of validate.
func Run[C any](t *testing.T, base func() C, validate func(C) error, cases []Case[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c := base()
			tc.Mod(&c)
			err := validate(c)
			switch {
			case tc.Want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.Want != "" && (err == nil || !strings.Contains(err.Error(), tc.Want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.Want)
			}
		})
	}
}
