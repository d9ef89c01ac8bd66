package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/dapr/dapr/cmd/daprd/options"
)

// Flags whose runtime.Config field has another name.
var renamedFlags = map[string]string{"ApplicationPort": "AppPort", "SchedulerStreams": "SchedulerJobStreams"}

// Flags used outside runtime.Config: by main (info flags, logging) or the security provider.
var flagsUsedElsewhere = map[string]bool{
	"RuntimeVersion": true, "BuildInfo": true, "WaitCommand": true, "Logger": true, "Metrics": true,
	"ControlPlaneTrustDomain": true, "ControlPlaneNamespace": true, "TrustAnchors": true,
	"SentryRequestJwtAudiences": true,
}

// Config fields that are not flags.
var builtFields = map[string]bool{
	"Metrics": true, "Registry": true, "Security": true, "Healthz": true, "WorkflowEventSink": true,
}

// distinct gives each settable flag a value of its own, so a field copied from the
// wrong flag shows up as well as one left at its zero value.
func distinct(t *testing.T, opts *options.Options) {
	value := reflect.ValueOf(opts).Elem()
	for i := range value.NumField() {
		name, field := value.Type().Field(i).Name, value.Field(i)
		switch v := field.Interface().(type) {
		case string:
			field.SetString(name)
		case int:
			field.SetInt(int64(i + 1))
		case uint:
			field.SetUint(uint64(i + 1))
		case bool:
			field.SetBool(true)
		case []string:
			field.Set(reflect.ValueOf([]string{name}))
		case []byte:
			field.SetBytes([]byte(name))
		case time.Duration:
			field.SetInt(int64(i + 1))
		case *bool:
			on := true
			field.Set(reflect.ValueOf(&on))
		case *time.Duration:
			d := time.Duration(i + 1)
			field.Set(reflect.ValueOf(&d))
		default:
			if !flagsUsedElsewhere[name] {
				t.Fatalf("flag %s has a type (%T) this test does not fill", name, v)
			}
		}
	}
}

func TestRuntimeConfigCarriesEveryFlag(t *testing.T) {
	opts, err := options.New([]string{"--app-id", "x"})
	if err != nil {
		t.Fatal(err)
	}
	distinct(t, opts)
	cfg := reflect.ValueOf(runtimeConfig(opts, nil, nil)).Elem()
	flags := reflect.ValueOf(opts).Elem()
	carried := map[string]bool{}
	for i := range cfg.NumField() {
		name := cfg.Type().Field(i).Name
		if builtFields[name] {
			continue
		}
		flag := name
		if renamed, ok := renamedFlags[name]; ok {
			flag = renamed
		}
		source := flags.FieldByName(flag)
		if !source.IsValid() {
			t.Errorf("runtime.Config.%s has no flag %s", name, flag)
			continue
		}
		carried[flag] = true
		if !reflect.DeepEqual(cfg.Field(i).Interface(), source.Interface()) {
			t.Errorf("runtime.Config.%s = %v, flag %s = %v", name, cfg.Field(i).Interface(), flag, source.Interface())
		}
	}
	for i := range flags.NumField() {
		name := flags.Type().Field(i).Name
		if !carried[name] && !flagsUsedElsewhere[name] {
			t.Errorf("flag %s reaches neither runtime.Config nor anything else", name)
		}
	}
}

func TestMetricsFollowTheFlags(t *testing.T) {
	opts, err := options.New([]string{"--app-id", "x", "--metrics-port", "9191", "--enable-metrics=false"})
	if err != nil {
		t.Fatal(err)
	}
	metrics := runtimeConfig(opts, nil, nil).Metrics
	if metrics.Enabled || metrics.Port != "9191" {
		t.Errorf("metrics options %+v do not follow the flags", metrics)
	}
}
