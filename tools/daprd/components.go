package main

import (
	"github.com/dapr/components-contrib/bindings/cron"
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	pubsubredis "github.com/dapr/components-contrib/pubsub/redis"
	"github.com/dapr/components-contrib/secretstores/azure/keyvault"
	"github.com/dapr/components-contrib/secretstores/local/env"
	"github.com/dapr/components-contrib/secretstores/local/file"
	postgresv2 "github.com/dapr/components-contrib/state/postgresql/v2"
	stateredis "github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/dapr/pkg/components"
	"github.com/dapr/dapr/pkg/components/bindings"
	"github.com/dapr/dapr/pkg/components/nameresolution"
	"github.com/dapr/dapr/pkg/components/pubsub"
	"github.com/dapr/dapr/pkg/components/secretstores"
	"github.com/dapr/dapr/pkg/components/state"
)

// The component types daprd knows. Dapr's own cmd/daprd/components registers every
// stable component of components-contrib (the AWS, GCP, Kafka, ... SDKs: most of a cold
// build); this wrapper registers what the platform's component files name, here, in
// docker-compose and on Container Apps, plus the stores a laptop swaps in:
//
//	pubsub.redis, state.redis          components/pubsub*.yaml, statestore.yaml, Bicep
//	secretstores.local.file            components/secretstore.yaml
//	secretstores.azure.keyvault        the secret store on Container Apps (Bicep)
//	bindings.cron                      components/ci-poll.yaml, Bicep
//	nameresolution.sqlite              components/config.yaml, docker/components/config.yaml
//	secretstores.local.env             secrets from the environment instead of a file
//	state.postgresql (version: v2)     the state store in PostgreSQL instead of Redis
//
// tests/infra/test_daprd_components.py asks the built binary for every type the
// component files name. To add one, register it here the way dapr's
// cmd/daprd/components/<family>_<name>.go of the pinned release does.
func init() {
	pubsub.DefaultRegistry.RegisterComponent(pubsubredis.NewRedisStreams, "redis")
	state.DefaultRegistry.RegisterComponent(stateredis.NewRedisStateStore, "redis")
	// Only v2; a file without `version: v2` asks for v1 (Dapr's default) and fails
	// loudly instead of silently getting the other table layout.
	state.DefaultRegistry.RegisterComponentWithVersions("postgresql", components.Versioning{
		Preferred: components.VersionConstructor{Version: "v2", Constructor: postgresv2.NewPostgreSQLStateStore},
		Default:   "v1",
	})
	secretstores.DefaultRegistry.RegisterComponent(file.NewLocalSecretStore, "local.file")
	secretstores.DefaultRegistry.RegisterComponent(env.NewEnvSecretStore, "local.env")
	secretstores.DefaultRegistry.RegisterComponent(keyvault.NewAzureKeyvaultSecretStore, "azure.keyvault")
	bindings.DefaultRegistry.RegisterInputBinding(cron.NewCron, "cron")
	// Not mDNS (multicast): sidecars register their loopback address in a sqlite file.
	nameresolution.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}
