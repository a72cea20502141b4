//go:build race

package main

// raceEnabled: the race detector makes 20,000 landings take minutes and
// changes what the heap holds.
const raceEnabled = true
