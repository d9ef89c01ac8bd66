// Command sentry runs Dapr's certificate authority from the same pinned module as daprd.
//
// Sidecars get their mTLS identities (SPIFFE ids) from it, which Dapr's access-control
// lists need to tell callers apart. The official entry point also starts a health and a
// metrics server on every interface; this one runs only the CA, on the loopback address.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dapr/dapr/pkg/healthz"
	"github.com/dapr/dapr/pkg/modes"
	"github.com/dapr/dapr/pkg/sentry"
	"github.com/dapr/dapr/pkg/sentry/config"
)

func main() {
	credentials := flag.String("issuer-credentials", "", "directory of ca.crt, issuer.crt and issuer.key (created if missing)")
	configFile := flag.String("config", "", "path of the sentry Configuration file")
	trustDomain := flag.String("trust-domain", "cluster.local", "the CA trust domain")
	listen := flag.String("listen-address", "127.0.0.1", "address of the gRPC server")
	port := flag.Int("port", config.DefaultPort, "port of the gRPC server")
	flag.Parse()
	if *credentials == "" || *configFile == "" {
		log.Fatal("--issuer-credentials and --config are required")
	}

	if err := os.MkdirAll(*credentials, 0o700); err != nil {
		log.Fatal(err)
	}
	cfg, err := config.FromConfigName(*configFile, string(modes.StandaloneMode))
	if err != nil {
		log.Fatal(err)
	}
	cfg.RootCertPath = filepath.Join(*credentials, config.DefaultRootCertFilename)
	cfg.IssuerCertPath = filepath.Join(*credentials, config.DefaultIssuerCertFilename)
	cfg.IssuerKeyPath = filepath.Join(*credentials, config.DefaultIssuerKeyFilename)
	cfg.JWT.SigningKeyPath = filepath.Join(*credentials, config.DefaultJWTSigningKeyFilename)
	cfg.JWT.JWKSPath = filepath.Join(*credentials, config.DefaultJWKSFilename)
	cfg.TrustDomain = *trustDomain
	cfg.ListenAddress = *listen
	cfg.Port = *port
	cfg.Mode = modes.StandaloneMode

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ca, err := sentry.New(ctx, sentry.Options{Config: cfg, Healthz: healthz.New()})
	if err != nil {
		log.Fatal(err)
	}
	if err := ca.Start(ctx); err != nil {
		log.Fatal(err)
	}
}
