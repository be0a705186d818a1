package configs

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes every option's environment variable (KILN_PORT, ...).
const EnvPrefix = "KILN"

// FlagName is key's command-line flag: snake_case becomes kebab-case.
func FlagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// EnvName is key's environment variable.
func EnvName(key string) string { return EnvPrefix + "_" + strings.ToUpper(key) }

// RegisterFlags adds every option to fs with its default and help, so
// `kiln serve --help` documents them all.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Defaults()
	v := reflect.ValueOf(d)
	for _, o := range options {
		f := fieldByKey(v, o.key)
		name := FlagName(o.key)
		switch x := f.Interface().(type) {
		case string:
			fs.String(name, x, o.usage)
		case int:
			fs.Int(name, x, o.usage)
		case float64:
			fs.Float64(name, x, o.usage)
		case bool:
			fs.Bool(name, x, o.usage)
		case []string:
			fs.StringSlice(name, x, o.usage)
		case time.Duration:
			fs.Duration(name, x, o.usage)
		case []ModelSpec:
			fs.StringArray(name, nil, o.usage)
		default:
			panic("configs: no flag kind for " + o.key) // a programming error caught by tests
		}
	}
}

// fieldByKey is the field of the Config value v tagged key.
func fieldByKey(v reflect.Value, key string) reflect.Value {
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("mapstructure") == key {
			return v.Field(i)
		}
	}
	panic("configs: no field for key " + key)
}

// Keys are every option's key as kiln.yaml spells it, in its order.
func Keys() []string {
	keys := make([]string, len(options))
	for i, o := range options {
		keys[i] = o.key
	}
	return keys
}

// ConfigFileEnv names the config file when --config is not given.
const ConfigFileEnv = EnvPrefix + "_CONFIG"

// Load builds the configuration: Defaults, then the YAML file (file, or
// $KILN_CONFIG when file is empty; none if both are), then KILN_*
// environment variables, then the flags of fs that were set on the command
// line (fs may be nil); then Validate.
func Load(file string, fs *pflag.FlagSet) (*Config, error) {
	if file == "" {
		file = os.Getenv(ConfigFileEnv)
	}
	v := viper.New()
	d := Defaults()
	dv := reflect.ValueOf(d)
	for _, o := range options {
		v.SetDefault(o.key, fieldByKey(dv, o.key).Interface())
	}
	v.SetEnvPrefix(EnvPrefix)
	v.AutomaticEnv()
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
		if err := checkKeys(v.AllSettings()); err != nil {
			return nil, fmt.Errorf("config file %s: %w", file, err)
		}
	}
	if fs != nil {
		for _, o := range options {
			if f := fs.Lookup(FlagName(o.key)); f != nil {
				if err := v.BindPFlag(o.key, f); err != nil {
					return nil, fmt.Errorf("configs: %w", err)
				}
			}
		}
	}
	models, err := parseModels(v.Get("models"))
	if err != nil {
		return nil, fmt.Errorf("option models (--models, %s): %w", EnvName("models"), err)
	}
	v.Set("models", []ModelSpec{}) // decoded by hand: mapstructure would ignore unknown keys
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	c.Models = models
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkKeys rejects unknown keys in a file: a misspelt option silently
// falling back to its default is worse than an error.
func checkKeys(settings map[string]any) error {
	known := map[string]bool{}
	for _, o := range options {
		known[o.key] = true
	}
	var errs []error
	for k := range settings {
		if !known[k] {
			errs = append(errs, fmt.Errorf("unknown option %q", k))
		}
	}
	return errors.Join(errs...)
}
