//go:build race

package main

// slowdown scales the time bounds of tests that time a request: the race
// detector makes compiled Go code 5-20× slower, and a bound that holds
// without it would then fail on instrumentation, not on the server.
const slowdown = 10
