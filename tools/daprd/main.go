// Command daprd builds the Dapr sidecar from its Go module at the version pinned in go.mod.
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
