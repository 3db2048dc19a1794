// Package deploy holds the tests of Chaff's deployment files: the
// Prometheus alert rules and Grafana dashboard are parsed with
// Prometheus's own parsers and may name only metrics Chaff exports
// (internal/telemetry). It is a separate module so that Prometheus and its
// dependencies never become the product's.
package deploy
