// Package deploy holds kiln's container image (Dockerfile), Kubernetes
// manifests (k8s/) and, for bare metal, systemd units for kiln serve and
// the kiln gateway in front of several servers (systemd/). It has no code:
// its tests decode every manifest strictly into the Kubernetes API types
// and check the flags, options, paths and metric names they use against
// kiln itself (the units' command lines are parsed by kiln's own flag
// parsers in package main's TestSystemdUnitsParse).
package deploy
