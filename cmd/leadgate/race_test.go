//go:build race

package main

// raceEnabled: the race pass of .ci/run runs every package at once, and
// Lighthouse's performance score counts the CPU the page takes.
const raceEnabled = true
