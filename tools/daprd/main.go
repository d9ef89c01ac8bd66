// Command daprd is the Dapr sidecar of the release pinned in go.mod, built with only the
// components the platform uses (components.go) instead of every stable one.
//
// Dapr's own entry point (cmd/daprd/app) imports cmd/daprd/components, which registers
// every stable component of components-contrib under -tags stablecomponents and panics
// without a tag; so this command starts the same runtime itself from Dapr's packages:
// the daprd flag set (cmd/daprd/options), the security provider and pkg/runtime.
package main

import (
	"fmt"
	"os"

	"go.uber.org/automaxprocs/maxprocs"

	"github.com/dapr/dapr/cmd/daprd/options"
	"github.com/dapr/dapr/pkg/buildinfo"
	"github.com/dapr/dapr/pkg/runtime"
	"github.com/dapr/kit/logger"
)

var (
	log        = logger.NewLogger("dapr.runtime")
	logContrib = logger.NewLogger("dapr.contrib")
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == checkFlag {
		os.Exit(checkComponentTypes(os.Args[2:], os.Stdout))
	}
	// GOMAXPROCS from the container's CPU quota, as the official daprd does.
	_, _ = maxprocs.Set()
	opts, err := options.New(os.Args[1:])
	if err != nil {
		log.Fatalf("Failed to parse flags: %v", err)
	}
	if answerInfoFlag(opts) {
		return
	}
	opts.Logger.SetAppID(opts.AppID)
	if err := logger.ApplyOptionsToLoggers(&opts.Logger); err != nil {
		log.Fatal(err)
	}
	log.Infof("Starting Dapr Runtime -- version %s -- commit %s", buildinfo.Version(), buildinfo.Commit())
	log.Infof("Log level set to: %s", opts.Logger.OutputLevel)
	serve(opts)
}

// answerInfoFlag handles --version, --build-info and --wait; false for a real start.
func answerInfoFlag(opts *options.Options) bool {
	switch {
	case opts.RuntimeVersion:
		fmt.Println(buildinfo.Version())
	case opts.BuildInfo:
		fmt.Printf("Version: %s\nGit Commit: %s\nGit Version: %s\n",
			buildinfo.Version(), buildinfo.Commit(), buildinfo.GitVersion())
	case opts.WaitCommand:
		runtime.WaitUntilDaprOutboundReady(opts.DaprHTTPPort)
	default:
		return false
	}
	return true
}
