//go:build !race

package main

// slowdown scales the time bounds of tests that time a request (see
// cmd_race_on_test.go).
const slowdown = 1
