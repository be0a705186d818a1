//go:build !race

package server

// slowdown scales the time bounds of tests that time a request (see
// race_on_test.go).
const slowdown = 1
