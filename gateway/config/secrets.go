package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/idgate/idgate/internal/secret"
)

var (
	secretType    = reflect.TypeFor[secret.Secret]()
	secretMapType = reflect.TypeFor[map[string]secret.Secret]()
)

// readSecretFiles resolves every secret named by a file: a secret.Secret
// setting tagged file:"KEY" takes the contents of the file its sibling
// setting KEY names (a map of secrets takes a map of files, per key). The
// file wins over an inline or environment value, so a deployment can
// mount its secrets without editing YAML.
func readSecretFiles(c *Config) error {
	return readSecrets(reflect.ValueOf(c).Elem(), "")
}

func readSecrets(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Struct:
		var errs []error
		for _, s := range settings(v) {
			p := join(path, s.name)
			if key := s.field.Tag.Get("file"); key != "" {
				errs = append(errs, readSecret(v, s, key, join(path, key)))
				continue
			}
			errs = append(errs, readSecrets(s.value, p))
		}
		return errors.Join(errs...)
	case reflect.Slice:
		var errs []error
		for i := range v.Len() {
			errs = append(errs, readSecrets(v.Index(i), fmt.Sprintf("%s[%d]", path, i)))
		}
		return errors.Join(errs...)
	}
	return nil
}

// readSecret fills the secret s of struct v from the file(s) its sibling
// setting key names.
func readSecret(v reflect.Value, s setting, key, keyPath string) error {
	src, ok := child(v, key)
	switch {
	case !ok:
		return fmt.Errorf("%s: no setting %s holds its file", s.name, key)
	case s.value.Type() == secretType && src.value.Kind() == reflect.String:
		if src.value.String() == "" {
			return nil
		}
		sec, err := secret.ReadFile(src.value.String())
		if err != nil {
			return fmt.Errorf("%s: %w", keyPath, err)
		}
		s.value.Set(reflect.ValueOf(sec))
		return nil
	case s.value.Type() == secretMapType && src.value.Kind() == reflect.Map:
		files := src.value
		keys := make([]string, 0, files.Len())
		for _, k := range files.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		for _, k := range keys {
			sec, err := secret.ReadFile(files.MapIndex(reflect.ValueOf(k)).String())
			if err != nil {
				return fmt.Errorf("%s[%s]: %w", keyPath, k, err)
			}
			if s.value.IsNil() {
				s.value.Set(reflect.MakeMap(secretMapType))
			}
			s.value.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(sec))
		}
		return nil
	}
	return fmt.Errorf("%s: a file tag needs a secret (or a map of them) and a file setting (or a map of them)", s.name)
}
