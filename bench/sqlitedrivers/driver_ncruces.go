//go:build sqlitedrivers_ncruces

package main

import (
	_ "github.com/ncruces/go-sqlite3/driver" // registers "sqlite3"
)

var compiled = &driverSpec{
	name:   "ncruces",
	module: "github.com/ncruces/go-sqlite3",
	sqlDrv: "sqlite3",
	dsn: func(path string, write bool) string {
		dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)"
		if write {
			dsn += "&_txlock=immediate"
		}
		return dsn
	},
}
