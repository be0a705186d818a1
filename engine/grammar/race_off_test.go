//go:build !race

package grammar

// raceEnabled: see race_on_test.go.
const raceEnabled = false
