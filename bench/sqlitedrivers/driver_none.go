//go:build !sqlitedrivers_modernc && !sqlitedrivers_mattn && !sqlitedrivers_ncruces

package main

// The untagged build is the orchestrator only: it builds one child binary
// per driver (see main.go), because mattn and ncruces both register the
// database/sql name "sqlite3" and so cannot be linked into one program.
var compiled *driverSpec
