//go:build sqlitedrivers_modernc

package main

import (
	"net/url"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// The DSN is the one store/sqlite.Open builds.
var compiled = &driverSpec{
	name:   "modernc",
	module: "modernc.org/sqlite",
	sqlDrv: "sqlite",
	dsn: func(path string, write bool) string {
		p := url.Values{}
		for _, v := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"} {
			p.Add("_pragma", v)
		}
		dsn := "file:" + path + "?" + p.Encode()
		if write {
			dsn += "&_txlock=immediate"
		}
		return dsn
	},
}
