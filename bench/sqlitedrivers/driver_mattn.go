//go:build sqlitedrivers_mattn

package main

import (
	"database/sql"

	sqlite3 "github.com/mattn/go-sqlite3" // needs cgo
)

// mattn's DSN has no temp_store parameter, so a driver of our own sets it
// on each new connection.
func init() {
	sql.Register("sqlite3_storeflow", &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
			return err
		},
	})
}

var compiled = &driverSpec{
	name:   "mattn",
	module: "github.com/mattn/go-sqlite3",
	sqlDrv: "sqlite3_storeflow",
	dsn: func(path string, write bool) string {
		dsn := "file:" + path + "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1"
		if write {
			dsn += "&_txlock=immediate"
		}
		return dsn
	},
}
