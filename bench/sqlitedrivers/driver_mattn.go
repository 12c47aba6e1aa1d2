//go:build sqlitedrivers_mattn

package main

import (
	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"; needs cgo
)

var compiled = &driverSpec{
	name:   "mattn",
	module: "github.com/mattn/go-sqlite3",
	sqlDrv: "sqlite3",
	dsn: func(path string, write bool) string {
		dsn := "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"
		if write {
			dsn += "&_txlock=immediate"
		}
		return dsn
	},
}
