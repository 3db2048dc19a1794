// Package trafficanalysis holds the traffic-analysis tests: what an
// observer of the ingest, or of NATS, sees of a population in which a few
// readers are sources, and whether any distinguisher tells them apart.
package trafficanalysis
