// Command daprd builds the Dapr sidecar from its Go module at the version pinned in go.mod.
package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	nameresolution "github.com/dapr/dapr/pkg/components/nameresolution"
)

// The stable component set has no loopback-friendly name resolver (only mDNS, which
// multicasts), so the sqlite resolver is registered here as well.
func init() {
	nameresolution.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
}

func main() {
	app.Run()
}
