//go:build race

package cpubackend_test

const raceEnabled = true
