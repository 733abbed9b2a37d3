package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix prefixes every environment override (IDGATE_GW_UPSTREAM_TOKEN, ...).
const EnvPrefix = "IDGATE_GW_"

// EnvVars are the environment overrides: the variable (after EnvPrefix)
// and the setting it replaces, by YAML path. The value is read as the
// setting's type: a duration ("250ms"), a boolean (true, false, 1, 0), a
// number, or a comma-separated list. Every secret takes its value and its
// file this way (X and X_FILE); a file wins over a value.
var EnvVars = []struct{ Name, Setting string }{
	{"LISTEN", "listen"},
	{"ADMIN_LISTEN", "admin.listen"},
	{"ADMIN_TOKEN", "admin.token"},
	{"ADMIN_TOKEN_FILE", "admin.token_file"},
	{"TIMEZONE", "timezone"},
	{"LOG_LEVEL", "log_level"},
	{"UPSTREAM_URL", "upstream.url"},
	{"UPSTREAM_TOKEN", "upstream.token"},
	{"UPSTREAM_TOKEN_FILE", "upstream.token_file"},
	{"UPSTREAM_TIMEOUT", "upstream.timeout"},
	{"STORE_PATH", "store.path"},
	{"STORE_SYNC", "store.sync"},
	{"STORE_JOURNAL_DIR", "store.journal_dir"},
	{"STORE_JOURNAL_SEGMENT_BYTES", "store.journal_segment_bytes"},
	{"STORE_INITIALIZE", "store.initialize"},
	{"TLS_CERT_FILE", "tls.cert_file"},
	{"TLS_KEY_FILE", "tls.key_file"},
	{"ENCRYPTION_PRIVATE_KEYS", "encryption.private_keys"},
	{"ENCRYPTION_UPSTREAM_KEYS", "encryption.upstream_keys"},
	{"ENCRYPTION_UPSTREAM_ALGORITHM", "encryption.upstream_algorithm"},
	{"SESSIONS_CALLBACK_URL", "sessions.callback_url"},
	{"SESSIONS_UPSTREAM_WEBHOOK_SECRET", "sessions.upstream_webhook_secret"},
	{"SESSIONS_UPSTREAM_WEBHOOK_SECRET_FILE", "sessions.upstream_webhook_secret_file"},
	{"CACHE_ENABLED", "cache.enabled"},
	{"CACHE_KEY_SECRET", "cache.key_secret"},
	{"CACHE_KEY_SECRET_FILE", "cache.key_secret_file"},
}

// applyEnv sets every setting whose variable is present.
func applyEnv(c *Config, env func(string) (string, bool)) error {
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, e := range EnvVars {
		v, ok := env(EnvPrefix + e.Name)
		if !ok {
			continue
		}
		dst, err := lookup(root, e.Setting)
		if err == nil {
			err = setString(dst, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, e.Name, err))
		}
	}
	return errors.Join(errs...)
}

var durationType = reflect.TypeFor[time.Duration]()

// setString parses s as dst's type and stores it.
func setString(dst reflect.Value, s string) error {
	switch {
	case dst.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		dst.SetInt(int64(d))
	case dst.Kind() == reflect.String:
		dst.SetString(s)
	case dst.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		dst.SetBool(b)
	case dst.CanInt():
		n, err := strconv.ParseInt(s, 10, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case dst.CanUint():
		n, err := strconv.ParseUint(s, 10, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetUint(n)
	case dst.CanFloat():
		f, err := strconv.ParseFloat(s, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetFloat(f)
	case dst.Kind() == reflect.Slice && dst.Type().Elem().Kind() == reflect.String:
		list := reflect.MakeSlice(dst.Type(), 0, 0)
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = reflect.Append(list, reflect.ValueOf(item).Convert(dst.Type().Elem()))
			}
		}
		if list.Len() == 0 {
			list = reflect.Zero(dst.Type())
		}
		dst.Set(list)
	default:
		return fmt.Errorf("a %s cannot come from the environment", dst.Type())
	}
	return nil
}
