package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/dapr/dapr/pkg/components/bindings"
	"github.com/dapr/dapr/pkg/components/nameresolution"
	"github.com/dapr/dapr/pkg/components/pubsub"
	"github.com/dapr/dapr/pkg/components/secretstores"
	"github.com/dapr/dapr/pkg/components/state"
)

// checkFlag makes daprd answer, from the registries app.Run loads components from,
// whether it can create each named component type instead of starting the sidecar.
const checkFlag = "--check-component-types"

// registered says whether daprd's registry of the type's family can create it.
// Creating a component only builds the Go value; Init (which connects) is not called.
func registered(componentType, version string) bool {
	family, name, _ := strings.Cut(componentType, ".")
	switch family {
	case "state":
		_, err := state.DefaultRegistry.Create(componentType, version, "")
		return err == nil
	case "pubsub":
		_, err := pubsub.DefaultRegistry.Create(componentType, version, "")
		return err == nil
	case "secretstores":
		_, err := secretstores.DefaultRegistry.Create(componentType, version, "")
		return err == nil
	case "bindings":
		return bindings.DefaultRegistry.HasInputBinding(componentType, version) ||
			bindings.DefaultRegistry.HasOutputBinding(componentType, version)
	case "nameresolution":
		_, err := nameresolution.DefaultRegistry.Create(name, version, "")
		return err == nil
	}
	return false // a family this check does not know yet counts as missing
}

// checkComponentTypes prints `<type>[/<version>] registered|missing` for each argument
// and returns 0 when every one is registered, 1 otherwise (2 without arguments).
func checkComponentTypes(args []string, out io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(out, "usage: daprd %s TYPE[/VERSION]...\n", checkFlag)
		return 2
	}
	status := 0
	for _, arg := range args {
		componentType, version, _ := strings.Cut(arg, "/")
		verdict := "registered"
		if !registered(componentType, version) {
			verdict, status = "missing", 1
		}
		fmt.Fprintf(out, "%s %s\n", arg, verdict)
	}
	return status
}
