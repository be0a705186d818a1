// Package deploy holds kiln's container image (Dockerfile) and Kubernetes
// manifests (k8s/). It has no code: its tests decode every manifest
// strictly into the Kubernetes API types and check the flags, options,
// paths and metric names they use against kiln itself.
package deploy
