package main

import (
	"context"

	"github.com/dapr/dapr/cmd/daprd/options"
	"github.com/dapr/dapr/pkg/components/bindings"
	"github.com/dapr/dapr/pkg/components/configuration"
	"github.com/dapr/dapr/pkg/components/conversation"
	"github.com/dapr/dapr/pkg/components/crypto"
	"github.com/dapr/dapr/pkg/components/lock"
	httpmiddleware "github.com/dapr/dapr/pkg/components/middleware/http"
	"github.com/dapr/dapr/pkg/components/nameresolution"
	"github.com/dapr/dapr/pkg/components/pubsub"
	"github.com/dapr/dapr/pkg/components/secretstores"
	"github.com/dapr/dapr/pkg/components/state"
	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/modes"
	"github.com/dapr/dapr/pkg/runtime"
	"github.com/dapr/dapr/pkg/runtime/registry"
	"github.com/dapr/dapr/pkg/security"
	"github.com/dapr/kit/concurrency"
	"github.com/dapr/kit/signals"
)

// serve runs the sidecar until SIGTERM/SIGINT or until the runtime stops by itself (the
// shutdown API); SIGHUP restarts it with a fresh context, reloading its configuration.
func serve(opts *options.Options) {
	ctx := signals.Context()
	restarts := signals.OnHUP(ctx)
	defer log.Info("Daprd shutdown gracefully")
	for {
		select {
		case <-ctx.Done():
			return
		case runCtx, ok := <-restarts:
			if !ok {
				return
			}
			if err := runOnce(runCtx, opts); err != nil {
				log.Fatalf("Fatal error from runtime: %s", err)
			}
			if runCtx.Err() == nil {
				return
			}
		}
	}
}

// runOnce runs the security provider (mTLS identity from Sentry) beside the runtime.
func runOnce(ctx context.Context, opts *options.Options) error {
	health := healthz.New()
	provider, err := security.New(ctx, security.Options{
		SentryAddress:           opts.SentryAddress,
		ControlPlaneTrustDomain: opts.ControlPlaneTrustDomain,
		ControlPlaneNamespace:   opts.ControlPlaneNamespace,
		TrustAnchors:            opts.TrustAnchors,
		AppID:                   opts.AppID,
		MTLSEnabled:             opts.EnableMTLS,
		Mode:                    modes.DaprMode(opts.Mode),
		Healthz:                 health,
		JwtAudiences:            opts.SentryRequestJwtAudiences,
	})
	if err != nil {
		return err
	}
	runSidecar := func(ctx context.Context) error {
		handler, err := provider.Handler(ctx)
		if err != nil {
			return err
		}
		rt, err := runtime.FromConfig(ctx, runtimeConfig(opts, handler, health))
		if err != nil {
			return err
		}
		return rt.Run(ctx)
	}
	return concurrency.NewRunnerManager(provider.Run, runSidecar).Run(ctx)
}

// componentRegistries hands the runtime Dapr's default registries, which components.go
// filled, each logging as the official daprd's do.
func componentRegistries() *registry.Options {
	secretstores.DefaultRegistry.Logger = logContrib
	state.DefaultRegistry.Logger = logContrib
	crypto.DefaultRegistry.Logger = logContrib
	configuration.DefaultRegistry.Logger = logContrib
	lock.DefaultRegistry.Logger = logContrib
	pubsub.DefaultRegistry.Logger = logContrib
	nameresolution.DefaultRegistry.Logger = logContrib
	bindings.DefaultRegistry.Logger = logContrib
	conversation.DefaultRegistry.Logger = logContrib
	httpmiddleware.DefaultRegistry.Logger = log
	return registry.NewOptions().
		WithSecretStores(secretstores.DefaultRegistry).
		WithStateStores(state.DefaultRegistry).
		WithConfigurations(configuration.DefaultRegistry).
		WithLocks(lock.DefaultRegistry).
		WithPubSubs(pubsub.DefaultRegistry).
		WithNameResolutions(nameresolution.DefaultRegistry).
		WithBindings(bindings.DefaultRegistry).
		WithCryptoProviders(crypto.DefaultRegistry).
		WithHTTPMiddlewares(httpmiddleware.DefaultRegistry).
		WithConversations(conversation.DefaultRegistry)
}
