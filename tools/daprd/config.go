package main

import (
	"go.opencensus.io/stats/view"

	"github.com/dapr/dapr/cmd/daprd/options"
	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/metrics"
	"github.com/dapr/dapr/pkg/runtime"
	"github.com/dapr/dapr/pkg/security"
)

// runtimeConfig carries every parsed daprd flag into the runtime's configuration
// (config_test.go checks that none is left behind).
func runtimeConfig(opts *options.Options, sec security.Handler, health healthz.Healthz) *runtime.Config {
	return &runtime.Config{
		AppID:                         opts.AppID,
		ActorsService:                 opts.ActorsService,
		ActorsDisseminationTimeout:    opts.ActorsDisseminationTimeout,
		RemindersService:              opts.RemindersService,
		SchedulerAddress:              opts.SchedulerAddress,
		SchedulerStreams:              opts.SchedulerJobStreams,
		AllowedOrigins:                opts.AllowedOrigins,
		ResourcesPath:                 opts.ResourcesPath,
		ComponentsPath:                opts.ComponentsPath,
		ControlPlaneAddress:           opts.ControlPlaneAddress,
		AppProtocol:                   opts.AppProtocol,
		Mode:                          opts.Mode,
		DaprHTTPPort:                  opts.DaprHTTPPort,
		DaprInternalGRPCPort:          opts.DaprInternalGRPCPort,
		DaprInternalGRPCListenAddress: opts.DaprInternalGRPCListenAddress,
		DaprAPIGRPCPort:               opts.DaprAPIGRPCPort,
		DaprAPIListenAddresses:        opts.DaprAPIListenAddresses,
		DaprPublicPort:                opts.DaprPublicPort,
		DaprPublicListenAddress:       opts.DaprPublicListenAddress,
		ApplicationPort:               opts.AppPort,
		ProfilePort:                   opts.ProfilePort,
		EnableProfiling:               opts.EnableProfiling,
		AppMaxConcurrency:             opts.AppMaxConcurrency,
		EnableMTLS:                    opts.EnableMTLS,
		SentryAddress:                 opts.SentryAddress,
		MaxRequestSize:                opts.MaxRequestSize,
		ReadBufferSize:                opts.ReadBufferSize,
		UnixDomainSocket:              opts.UnixDomainSocket,
		DaprGracefulShutdownSeconds:   opts.DaprGracefulShutdownSeconds,
		DaprBlockShutdownDuration:     opts.DaprBlockShutdownDuration,
		DisableBuiltinK8sSecretStore:  opts.DisableBuiltinK8sSecretStore,
		EnableAppHealthCheck:          opts.EnableAppHealthCheck,
		AppHealthCheckPath:            opts.AppHealthCheckPath,
		AppHealthProbeInterval:        opts.AppHealthProbeInterval,
		AppHealthProbeTimeout:         opts.AppHealthProbeTimeout,
		AppHealthThreshold:            opts.AppHealthThreshold,
		AppChannelAddress:             opts.AppChannelAddress,
		EnableAPILogging:              opts.EnableAPILogging,
		Config:                        opts.Config,
		DisableInitEndpoints:          opts.DisableInitEndpoints,
		AppSSL:                        opts.AppSSL,
		Metrics: metrics.Options{
			Enabled:       opts.Metrics.Enabled(),
			Log:           log,
			Port:          opts.Metrics.Port(),
			Namespace:     metrics.DefaultMetricNamespace,
			Healthz:       health,
			ListenAddress: opts.Metrics.ListenAddress(),
			Meter:         view.NewMeter(),
		},
		Registry: componentRegistries(),
		Security: sec,
		Healthz:  health,
	}
}
