package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix prefixes every environment override (IDGATE_GW_UPSTREAM_TOKEN, ...).
const EnvPrefix = "IDGATE_GW_"

// EnvVars are the settings an environment variable overrides, by YAML
// path; the variable is EnvName of the path (IDGATE_GW_UPSTREAM_TIMEOUT
// for "upstream.timeout"). The value is read as the setting's type: a
// duration ("250ms"), a boolean (true, false, 1, 0), a number, or a
// comma-separated list. Every secret takes its value and its file this way
// (X and X_FILE); a file wins over a value.
var EnvVars = []string{
	"listen",
	"admin.listen",
	"admin.token",
	"admin.token_file",
	"timezone",
	"log_level",
	"upstream.url",
	"upstream.token",
	"upstream.token_file",
	"upstream.timeout",
	"upstream.tencent.secret_id",
	"upstream.tencent.secret_key",
	"upstream.tencent.secret_key_file",
	"upstream.tencent.region",
	"store.path",
	"store.sync",
	"store.journal_dir",
	"store.journal_segment_bytes",
	"store.initialize",
	"tls.cert_file",
	"tls.key_file",
	"encryption.private_keys",
	"encryption.upstream_keys",
	"encryption.upstream_algorithm",
	"sessions.callback_url",
	"sessions.upstream_webhook_secret",
	"sessions.upstream_webhook_secret_file",
	"cache.enabled",
	"cache.key_secret",
	"cache.key_secret_file",
	"cache.shared",
	"auth.secret_encryption_key",
	"auth.secret_encryption_key_file",
	"stores.mode",
	"stores.replicas",
	"stores.redis.url",
	"stores.redis.url_file",
	"stores.redis.prefix",
	"stores.redis.timeout",
	"stores.postgres.url",
	"stores.postgres.url_file",
	"stores.postgres.schema",
	"stores.postgres.timeout",
}

// EnvAliases are shorter names for settings a deployment sets most: the
// shared stores' URLs (and their files). An alias is read after EnvVars'
// own name, so it wins when both are set.
var EnvAliases = map[string]string{
	EnvPrefix + "REDIS_URL":         "stores.redis.url",
	EnvPrefix + "REDIS_URL_FILE":    "stores.redis.url_file",
	EnvPrefix + "POSTGRES_URL":      "stores.postgres.url",
	EnvPrefix + "POSTGRES_URL_FILE": "stores.postgres.url_file",
}

// EnvName is the variable that overrides setting: EnvPrefix and the path
// upper-cased, dots as underscores.
func EnvName(setting string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(setting, ".", "_"))
}

// applyEnv sets every setting whose variable is present.
func applyEnv(c *Config, env func(string) (string, bool)) error {
	root := reflect.ValueOf(c).Elem()
	var errs []error
	type override struct{ name, setting string }
	all := make([]override, 0, len(EnvVars)+len(EnvAliases))
	for _, setting := range EnvVars {
		all = append(all, override{EnvName(setting), setting})
	}
	for _, name := range slices.Sorted(maps.Keys(EnvAliases)) {
		all = append(all, override{name, EnvAliases[name]})
	}
	for _, o := range all {
		name, setting := o.name, o.setting
		v, ok := env(name)
		if !ok {
			continue
		}
		dst, err := lookup(root, setting)
		if err == nil {
			err = setString(dst, v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
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
